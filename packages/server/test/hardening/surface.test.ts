// The service's public surface: who may create or replace a guest from a browser, whose
// X-Forwarded-For the rate limit believes (and how much memory it may use), whether a
// machine-to-machine token can act as a user, and what the operator's routes show to strangers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOptionError, MemoryCreationLimiter } from '@guestmode/core';
import { startTestIssuer, type TestIssuer } from '@guestmode/testkit';
import { buildServer } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { ADMIN_TOKEN, assertError, cookies, type Service, startService } from '../harness.js';
import { assert } from './lib.js';

interface Created {
  guestId: string;
  token: string;
}

describe('POST /v1/guests from browsers', () => {
  let s: Service;
  before(async () => {
    s = await startService({ kind: 'sqlite', config: { rateLimit: false } });
  });
  after(() => s.close());

  it('refuses a browser request from another origin, even a sibling subdomain', async () => {
    const before = (await s.guestmode.stats()).created;
    const attempts: Record<string, string>[] = [
      { 'sec-fetch-site': 'same-site', origin: 'http://evil.127.0.0.1.nip.io' },
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      { origin: 'https://shop.example' },
      { origin: 'null' },
      // Sec-Fetch-Site says same-origin, but the Origin names someone else: both must agree.
      { 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' },
    ];
    for (const headers of attempts) {
      const res = await s.request('POST', '/v1/guests', { headers });
      assertError(res, 403, 'cross_site_request');
      assert.equal(res.headers.getSetCookie().length, 0, 'no cookie is set or replaced');
    }
    assert.equal((await s.guestmode.stats()).created, before, 'no guest was created');
  });

  it('serves its own pages, programs without browser headers, and a configured public origin', async () => {
    const own = await s.request('POST', '/v1/guests', {
      headers: { 'sec-fetch-site': 'same-origin', origin: s.base },
    });
    assert.equal(own.status, 201);
    assert.equal((await s.request('POST', '/v1/guests')).status, 201);

    const behindProxy = await startService({
      kind: 'sqlite',
      config: { rateLimit: false, publicOrigin: 'https://guests.example.com' },
    });
    try {
      const ok = await behindProxy.request('POST', '/v1/guests', {
        headers: { origin: 'https://guests.example.com' },
      });
      assert.equal(ok.status, 201);
      // The address the request reached is not the public origin any more.
      const direct = await behindProxy.request('POST', '/v1/guests', {
        headers: { origin: behindProxy.base },
      });
      assertError(direct, 403, 'cross_site_request');
    } finally {
      await behindProxy.close();
    }
  });

  it('gives a request that holds a working guest cookie that guest back instead of a new one', async () => {
    const first = await s.request<Created>('POST', '/v1/guests', {
      json: { attributes: { cart: [{ id: 'b1', quantity: 2 }] } },
    });
    assert.equal(first.status, 201);
    const cookie = `guestmode=${first.body.token}`;
    const again = await s.request<Created>('POST', '/v1/guests', {
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
      json: { attributes: {} },
    });
    assert.equal(again.status, 200);
    assert.equal(again.body.guestId, first.body.guestId);
    assert.equal(cookies(again.headers).get('guestmode')?.value, first.body.token);
    const profile = await s.request<{ attributes: Record<string, unknown> }>('GET', '/v1/profile', {
      headers: { cookie },
    });
    assert.deepEqual(profile.body.attributes.cart, [{ id: 'b1', quantity: 2 }]);

    // A dead cookie (here: one that never existed) is replaced.
    const dead = `guestmode=gm_${'A'.repeat(22)}.${'B'.repeat(43)}`;
    const fresh = await s.request<Created>('POST', '/v1/guests', { headers: { cookie: dead } });
    assert.equal(fresh.status, 201);
    assert.notEqual(fresh.body.guestId, first.body.guestId);
  });
});

describe('the rate limit believes only the trusted proxies', () => {
  it('refuses GUESTMODE_TRUST_PROXY=true, and takes hop counts and CIDR lists', () => {
    assert.throws(
      () => loadConfig({ env: { GUESTMODE_TRUST_PROXY: 'true' } }),
      (error: unknown) => isOptionError(error) && error.option === 'GUESTMODE_TRUST_PROXY',
    );
    assert.equal(loadConfig({ env: { GUESTMODE_TRUST_PROXY: '1' } }).trustProxy, 1);
    assert.deepEqual(loadConfig({ env: { GUESTMODE_TRUST_PROXY: '10.0.0.0/8' } }).trustProxy, [
      '10.0.0.0/8',
    ]);
  });

  it('one trusted hop: six posts with different spoofed X-Forwarded-For share one budget', async () => {
    const config = loadConfig({
      env: { GUESTMODE_TRUST_PROXY: '1', GUESTMODE_RATE_LIMIT: '3/1m' },
    });
    const s = await startService({
      kind: 'sqlite',
      config: { rateLimit: config.rateLimit, trustProxy: config.trustProxy },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        // The client wrote the first entry; the proxy appended the address it really saw.
        const res = await s.request('POST', '/v1/guests', {
          headers: { 'x-forwarded-for': `198.51.100.${i}, 203.0.113.7` },
        });
        statuses.push(res.status);
      }
      assert.deepEqual(statuses, [201, 201, 201, 429, 429, 429]);
      // Another client behind the same proxy has its own budget...
      const other = await s.request('POST', '/v1/guests', {
        headers: { 'x-forwarded-for': '203.0.113.8' },
      });
      assert.equal(other.status, 201);
      // ...but every address of one IPv6 /64 is one client.
      const v6: number[] = [];
      for (let i = 1; i <= 4; i++) {
        const res = await s.request('POST', '/v1/guests', {
          headers: { 'x-forwarded-for': `2001:db8:5:6::${i.toString(16)}` },
        });
        v6.push(res.status);
      }
      assert.deepEqual(v6, [201, 201, 201, 429]);
    } finally {
      await s.close();
    }
  });

  it('keeps a bounded number of client windows in memory', () => {
    const limiter = new MemoryCreationLimiter({ max: 1, windowMs: 60_000 }, () => 1_000, 100);
    for (let i = 0; i < 1_000; i++) limiter.takeNow(`198.51.${i >> 8}.${i & 255}`);
    assert.ok(limiter.size <= 100, `tracked ${limiter.size}`);
    // The newest client's window survived the evictions.
    assert.throws(() => limiter.takeNow('198.51.3.231'), /Too many new guests/);
  });
});

describe('machine-to-machine tokens', () => {
  let issuer: TestIssuer;
  let dir: string;
  before(async () => {
    issuer = await startTestIssuer();
    dir = mkdtempSync(join(tmpdir(), 'gm-m2m-'));
  });
  after(async () => {
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('cannot read or write a "user" profile unless the client is allowed by name', async () => {
    const m2m = await issuer.accessToken({ sub: 'billing-job', client_id: 'billing-job' });
    const user = await issuer.accessToken({ sub: 'user_1', client_id: 'web-app' });
    const serve = async (allowClients?: string[]) =>
      buildServer({
        config: {
          database: { kind: 'sqlite', path: join(dir, `${allowClients ? 'allow' : 'deny'}.db`) },
          oidc: {
            issuer: issuer.issuer,
            audience: issuer.audience,
            ...(allowClients ? { allowClients } : {}),
          },
          purgeIntervalMs: 0,
        },
      });
    const strict = await serve();
    try {
      for (const [method, url] of [
        ['GET', '/v1/profile'],
        ['PUT', '/v1/profile/attributes/cart'],
      ] as const) {
        const res = await strict.inject({
          method,
          url,
          headers: { authorization: `Bearer ${m2m}`, 'content-type': 'application/json' },
          ...(method === 'PUT' ? { payload: '[]' } : {}),
        });
        assert.equal(res.statusCode, 401, res.body);
        assert.equal(res.json().error.code, 'invalid_access_token');
      }
      const ok = await strict.inject({
        url: '/v1/profile',
        headers: { authorization: `Bearer ${user}` },
      });
      assert.equal(ok.statusCode, 200);
    } finally {
      await strict.close();
    }
    const allowing = await serve(['billing-job']);
    try {
      const res = await allowing.inject({
        url: '/v1/profile',
        headers: { authorization: `Bearer ${m2m}` },
      });
      assert.equal(res.statusCode, 200, res.body);
    } finally {
      await allowing.close();
    }
  });
});

describe("the operator's routes", () => {
  it('are not served without an admin token', async () => {
    const s = await startService({ kind: 'sqlite', config: { adminToken: undefined } });
    try {
      for (const path of ['/', '/dashboard', '/v1/stats', '/metrics']) {
        const res = await fetch(`${s.base}${path}`);
        assert.equal(res.status, 404, path);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
      }
      assert.equal((await fetch(`${s.base}/healthz`)).status, 200);
    } finally {
      await s.close();
    }
  });

  it('answer 401 with a Basic challenge without the right token, and open with it', async () => {
    const s = await startService({ kind: 'sqlite' });
    try {
      const basic = (password: string) =>
        `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
      for (const path of ['/', '/v1/stats', '/metrics']) {
        for (const authorization of [
          undefined,
          'Bearer wrong-token-0123456789',
          basic('wrong-token-0123456789'),
          `Bearer ${ADMIN_TOKEN}x`,
        ]) {
          const res = await fetch(`${s.base}${path}`, {
            headers: authorization ? { authorization } : {},
          });
          assert.equal(res.status, 401, `${path} ${authorization}`);
          assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm=/);
          const body = await res.text();
          assert.ok(!body.includes(ADMIN_TOKEN.slice(0, 12)), 'the token is never echoed');
        }
        for (const authorization of [`Bearer ${ADMIN_TOKEN}`, basic(ADMIN_TOKEN)]) {
          const res = await fetch(`${s.base}${path}`, { headers: { authorization } });
          assert.equal(res.status, 200, `${path} ${authorization}`);
        }
      }
    } finally {
      await s.close();
    }
  });

  it('warns when the OIDC issuer is plain http on another host', async () => {
    const lines: string[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'gm-warn-'));
    try {
      for (const issuer of [
        'http://idp.internal.example/oidc',
        'http://localhost:3001/oidc',
        'https://idp.example/oidc',
      ]) {
        const app = await buildServer({
          config: {
            database: { kind: 'sqlite', path: join(dir, 'gm.db') },
            oidc: { issuer, audience: 'https://api.example' },
            purgeIntervalMs: 0,
          },
          logger: { level: 'warn', stream: { write: (line: string) => lines.push(line) } },
        });
        await app.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const warnings = lines.filter((line) => line.includes('plain http'));
    assert.equal(warnings.length, 1, lines.join('\n'));
    assert.match(warnings[0]!, /idp\.internal\.example/);
  });
});
