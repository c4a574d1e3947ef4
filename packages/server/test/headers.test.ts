// Response headers of the service: answers that carry a guest token or personal data must not
// be kept by any cache, say what they vary by, and are never content-sniffed.
import { after, before, describe, it } from 'node:test';
import { startTestIssuer, type TestIssuer } from '@guestmode/testkit';
import { assert, type Response, type Service, startService } from './harness.js';

describe('response headers', () => {
  let issuer: TestIssuer;
  let s: Service;
  before(async () => {
    issuer = await startTestIssuer();
    s = await startService({ kind: 'sqlite', issuer });
  });
  after(async () => {
    await s?.close();
    await issuer?.close();
  });

  const noStore = (what: string, res: Response, vary: boolean) => {
    assert.equal(res.headers.get('cache-control'), 'no-store', what);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
    if (vary) assert.equal(res.headers.get('vary'), 'Cookie, Authorization', what);
  };

  it('every answer with a credential or personal data is no-store, nosniff, Vary', async () => {
    const created = await s.request<{ token: string }>('POST', '/v1/guests', {
      json: { attributes: { cart: [1] } },
    });
    assert.equal(created.status, 201);
    noStore('new guest (token)', created, true);
    const guest = { authorization: `Bearer ${created.body.token}` };
    const user = { authorization: `Bearer ${await issuer.accessToken({ sub: 'user-h' })}` };
    const answers: Array<[string, Response]> = [
      ['profile', await s.request('GET', '/v1/profile', { headers: guest })],
      [
        'attribute read',
        await s.request('GET', '/v1/profile/attributes/{name}', {
          headers: guest,
          params: { name: 'cart' },
        }),
      ],
      [
        'attribute write',
        await s.request('PUT', '/v1/profile/attributes/{name}', {
          headers: guest,
          params: { name: 'note' },
          json: 'hi',
        }),
      ],
      ['user profile', await s.request('GET', '/v1/profile', { headers: user })],
      [
        'merge preview',
        await s.request('POST', '/v1/merge/preview', {
          headers: { ...user, 'guest-token': created.body.token },
        }),
      ],
      [
        'merge',
        await s.request('POST', '/v1/merge', {
          headers: { ...user, 'guest-token': created.body.token },
        }),
      ],
      ['error (401)', await s.request('GET', '/v1/profile')],
      [
        'error (400)',
        await s.request('PUT', '/v1/profile/attributes/{name}', {
          headers: { ...user, 'content-type': 'application/json' },
          params: { name: 'x' },
          raw: '{',
        }),
      ],
    ];
    for (const [what, res] of answers) {
      assert.ok(res.status < 500, `${what}: ${res.status} ${res.text}`);
      noStore(what, res, true);
    }
    const notFound = await fetch(`${s.base}/nowhere`);
    await notFound.arrayBuffer();
    assert.equal(notFound.status, 404);
    assert.equal(notFound.headers.get('cache-control'), 'no-store');
    assert.equal(notFound.headers.get('x-content-type-options'), 'nosniff');
  });
});
