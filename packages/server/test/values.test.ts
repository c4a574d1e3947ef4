// Attribute values the merge would change (it parses and re-serialises them) are refused at the
// door, with the JSON path, instead of being stored byte for byte and altered later.
import { after, before, describe, it } from 'node:test';
import { assert, assertError, type Service, startService } from './harness.js';

describe('attribute values over HTTP', () => {
  let s: Service;
  before(async () => {
    s = await startService({ kind: 'sqlite' });
  });
  after(() => s?.close());

  it('refuses duplicate keys, overflowing numbers, long integers and -0 with the path', async () => {
    const created = await s.request<{ token: string }>('POST', '/v1/guests');
    const headers = {
      authorization: `Bearer ${created.body.token}`,
      'content-type': 'application/json',
    };
    const cases: Array<[string, RegExp]> = [
      ['{"a":1,"a":2}', /key "a" twice at \$/],
      ['{"q":[1,1e999]}', /too large .* at \$\.q\[1\]/],
      ['{"id":123456789012345678901234567890}', /integer beyond .* at \$\.id/],
      ['[-0]', /negative zero at \$\[0\]/],
    ];
    for (const [raw, message] of cases) {
      const res = await s.request<{ error: { message: string } }>(
        'PUT',
        '/v1/profile/attributes/{name}',
        { headers, params: { name: 'cart' }, raw },
      );
      assertError(res, 400, 'invalid_attribute_value');
      assert.match(res.body.error.message, message, raw);
    }
    const profile = await s.request<{ attributes: Record<string, unknown> }>('GET', '/v1/profile', {
      headers,
    });
    assert.deepEqual(profile.body.attributes, {});
    const kept = '{"a":1,"b":[9007199254740991,-1.5e300,"-0"]}';
    const put = await s.request('PUT', '/v1/profile/attributes/{name}', {
      headers,
      params: { name: 'cart' },
      raw: kept,
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.text, `{"name":"cart","value":${kept}}`);
  });
});
