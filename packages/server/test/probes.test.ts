// /livez answers whenever the process does; /readyz only when the database and the OIDC
// provider answer, and it asks the provider at most once per few seconds however often it is
// probed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { startTestIssuer, type TestIssuer } from '@guestmode/testkit';
import { buildServer } from '../src/app.js';
import { assert } from './harness.js';

describe('probes', () => {
  let dir: string;
  let issuer: TestIssuer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gm-probes-'));
    issuer = await startTestIssuer();
  });
  after(async () => {
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(name: string, oidcIssuer: TestIssuer) {
    const storage = await openSqliteStorage({ database: join(dir, `${name}.db`) });
    const guestmode = createGuestmode({ storage });
    let clock = 1_000_000;
    const app = await buildServer({
      guestmode,
      closeGuestmode: true,
      now: () => clock,
      config: {
        oidc: { issuer: oidcIssuer.issuer, audience: oidcIssuer.audience },
        dashboard: false,
        purgeIntervalMs: 0,
      },
    });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const get = async (path: string) => {
      const response = await fetch(`${address}${path}`);
      const body = (await response.json()) as { status?: string; error?: { code: string } };
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
    };
    return {
      app,
      storage,
      get,
      advance: (ms: number) => {
        clock += ms;
      },
    };
  }

  it('is ready with the database and the provider up, asking the provider once per 5 s', async () => {
    const s = await start('up', issuer);
    try {
      const discoveries = issuer.discoveryRequests;
      const jwks = issuer.requests;
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(await s.get('/readyz'), {
          status: 200,
          retryAfter: null,
          body: { status: 'ok' },
        });
      }
      assert.equal(issuer.discoveryRequests - discoveries, 1, 'discovery fetched once');
      assert.equal(issuer.requests - jwks, 1, 'JWKS fetched once');
      s.advance(5_000);
      assert.equal((await s.get('/readyz')).status, 200);
      assert.equal(issuer.discoveryRequests - discoveries, 2, 'fetched again once the answer aged');
      assert.equal((await s.get('/livez')).status, 200);
      assert.equal((await s.get('/healthz')).status, 200);
    } finally {
      await s.app.close();
    }
  });

  it('is not ready when the database is closed, while /livez still answers', async () => {
    const s = await start('closed', issuer);
    try {
      await s.storage.close();
      const ready = await s.get('/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.error?.code, 'storage_unavailable');
      assert.equal(ready.retryAfter, '5');
      assert.equal((await s.get('/healthz')).status, 503, '/healthz checks the database too');
      assert.deepEqual((await s.get('/livez')).body, { status: 'ok' });
    } finally {
      await s.app.close().catch(() => undefined);
    }
  });

  it('is not ready when the issuer cannot be reached, once the cached answer has aged', async () => {
    const gone = await startTestIssuer();
    const s = await start('unreachable', gone);
    try {
      assert.equal((await s.get('/readyz')).status, 200);
      await gone.close();
      // Within the cache window the last answer stands; after it the provider is asked again.
      assert.equal((await s.get('/readyz')).status, 200);
      s.advance(5_000);
      const ready = await s.get('/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.error?.code, 'provider_unavailable');
      assert.equal(ready.retryAfter, '5');
      assert.equal((await s.get('/livez')).status, 200);
      assert.equal((await s.get('/healthz')).status, 200, '/healthz does not ask the provider');
    } finally {
      await s.app.close();
    }
  });
});
