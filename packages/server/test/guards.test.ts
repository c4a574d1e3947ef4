// Guards and operations that do not depend on the store: HTTPS cookies, outages (503), bugs
// (500 without details), graceful shutdown, the purge timer, switches. Run on SQLite.
import { after, before, describe, it } from 'node:test';
import { GuestmodeError, type GuestStorage } from '@guestmode/core';
import { randomId, startTestIssuer, type TestIssuer, waitFor } from '@guestmode/testkit';
import { assert, assertError, cookies, startService } from './harness.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A store that fails on demand, the way a database outage or a bug would. */
function failing(mode: { fail: 'none' | 'unavailable' | 'bug' }) {
  return (storage: GuestStorage): GuestStorage =>
    new Proxy(storage, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        if (prop === 'close') return value.bind(target);
        return (...args: unknown[]) => {
          if (mode.fail === 'unavailable') {
            throw new GuestmodeError(
              'storage_unavailable',
              'The database is unavailable; retry later.',
            );
          }
          if (mode.fail === 'bug') {
            throw new Error(
              'relation "gm_guests" does not exist at postgres://admin:hunter2@db/prod',
            );
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
}

describe('guards', () => {
  let issuer: TestIssuer;
  before(async () => {
    issuer = await startTestIssuer();
  });
  after(() => issuer.close());

  it('uses a __Host- Secure cookie behind a trusted HTTPS proxy, and only that one', async () => {
    const s = await startService({ kind: 'sqlite', issuer, config: { trustProxy: 1 } });
    try {
      const https = { 'x-forwarded-proto': 'https' };
      const res = await s.request<{ token: string }>('POST', '/v1/guests', { headers: https });
      const cookie = cookies(res.headers).get('__Host-guestmode');
      assert.ok(cookie, res.headers.getSetCookie().join('\n'));
      const attrs = cookie.attributes.map((a) => a.toLowerCase());
      for (const a of ['secure', 'httponly', 'samesite=lax', 'path=/'])
        assert.ok(attrs.includes(a), a);
      assert.ok(!attrs.some((a) => a.startsWith('domain=')), '__Host- cookies have no Domain');
      const token = res.body.token;
      const read = await s.request('GET', '/v1/profile', {
        headers: { ...https, cookie: `__Host-guestmode=${token}` },
      });
      assert.equal(read.status, 200);
      // Over HTTPS a plain `guestmode` cookie (which a sibling subdomain could plant) is ignored.
      assertError(
        await s.request('GET', '/v1/profile', {
          headers: { ...https, cookie: `guestmode=${token}` },
        }),
        401,
        'credential_required',
      );
    } finally {
      await s.close();
    }
  });

  it('ignores X-Forwarded-Proto from a proxy that is not trusted', async () => {
    const s = await startService({ kind: 'sqlite', issuer });
    try {
      const res = await s.request('POST', '/v1/guests', {
        headers: { 'x-forwarded-proto': 'https' },
      });
      assert.ok(cookies(res.headers).has('guestmode'));
      assert.ok(!cookies(res.headers).has('__Host-guestmode'));
    } finally {
      await s.close();
    }
  });

  it('answers 503 storage_unavailable with Retry-After, and 500 internal_error without details', async () => {
    const mode: { fail: 'none' | 'unavailable' | 'bug' } = { fail: 'none' };
    const s = await startService({ kind: 'sqlite', issuer, wrapStorage: failing(mode) });
    try {
      const { body } = await s.request<{ token: string }>('POST', '/v1/guests');
      mode.fail = 'unavailable';
      for (const res of [
        await s.request('GET', '/healthz'),
        await s.request('GET', '/v1/profile', { headers: bearer(body.token) }),
        await s.request('POST', '/v1/guests'),
      ]) {
        assertError(res, 503, 'storage_unavailable');
        assert.equal(res.headers.get('retry-after'), '5');
      }
      mode.fail = 'bug';
      const bug = await s.request('GET', '/v1/profile', { headers: bearer(body.token) });
      assertError(bug, 500, 'internal_error');
      assert.doesNotMatch(bug.text, /hunter2|postgres:|gm_guests/);
      assertError(await s.request('GET', '/healthz'), 503, 'storage_unavailable');
      mode.fail = 'none';
      assert.equal((await s.request('GET', '/healthz')).status, 200);
    } finally {
      mode.fail = 'none';
      await s.close();
    }
  });

  it('answers 503 provider_unavailable when the OIDC provider cannot be reached', async () => {
    const gone = await startTestIssuer();
    const token = await gone.accessToken({ sub: 'user_x' });
    await gone.close();
    const s = await startService({ kind: 'sqlite', issuer: gone });
    try {
      const res = await s.request('GET', '/v1/profile', { headers: bearer(token) });
      assertError(res, 503, 'provider_unavailable');
      assert.equal(res.headers.get('retry-after'), '5');
    } finally {
      await s.close();
    }
  });

  it('refuses bodies over the configured limit (413 payload_too_large)', async () => {
    const s = await startService({ kind: 'sqlite', issuer, config: { bodyLimit: 2048 } });
    try {
      const res = await s.request('PUT', '/v1/profile/attributes/{name}', {
        params: { name: 'cart' },
        json: 'x'.repeat(3000),
      });
      assertError(res, 413, 'payload_too_large');
    } finally {
      await s.close();
    }
  });

  it('finishes an in-flight merge on shutdown', async () => {
    let started!: () => void;
    const isStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const s = await startService({
      kind: 'sqlite',
      issuer,
      mergeRules: {
        slow: async ({ guest }) => {
          started();
          await released;
          return { value: guest.value, outcome: 'copied' };
        },
      },
    });
    const { body } = await s.request<{ token: string }>('POST', '/v1/guests', {
      json: { attributes: { slow: 1 } },
    });
    const access = await issuer.accessToken({ sub: `user_${randomId(4)}` });
    const merge = fetch(`${s.base}/v1/merge`, {
      method: 'POST',
      headers: { ...bearer(access), 'guest-token': body.token },
    });
    await isStarted;
    const closing = s.app.close();
    release();
    const res = await merge;
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { attributes: unknown }).attributes, { slow: 1 });
    await closing;
    await s.close();
  });

  it('purges expired guests on a timer', async () => {
    const s = await startService({ kind: 'sqlite', issuer, config: { purgeIntervalMs: 20 } });
    try {
      await s.request('POST', '/v1/guests');
      s.clock += 31 * 86_400_000;
      const stats = await waitFor(async () => {
        const now = await s.guestmode.stats();
        return now.expired > 0 ? now : undefined;
      });
      assert.equal(stats.active, 0);
    } finally {
      await s.close();
    }
  });

  it('can switch the dashboard off', async () => {
    const s = await startService({ kind: 'sqlite', issuer, config: { dashboard: false } });
    try {
      for (const path of ['/', '/dashboard', '/v1/stats']) {
        const res = await fetch(`${s.base}${path}`);
        assert.equal(res.status, 404, path);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
      }
    } finally {
      await s.close();
    }
  });
});
