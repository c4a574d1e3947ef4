import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import pg from 'pg';
import {
  closeServer,
  createTestDatabase,
  decodeJwt,
  ensureChromium,
  launchBrowser,
  listen,
  randomId,
  startPostgres,
  startTestIssuer,
  type TestIssuer,
  waitFor,
} from '../src/index.ts';

describe('createTestDatabase', () => {
  test('gives a fresh PostgreSQL 18 database and drops it', async () => {
    const db = await createTestDatabase();
    const name = new URL(db.url).pathname.slice(1);
    assert.match(name, /^gm_test_[0-9a-f]+$/);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<{ version: string }>('select version()');
    assert.match(rows[0]!.version, /PostgreSQL 18/);
    // Left open on purpose: drop() must terminate connections a test forgot to close.
    client.on('error', () => undefined);

    await db.drop();
    await db.drop(); // idempotent

    const admin = new URL(db.url);
    admin.pathname = '/postgres';
    const check = new pg.Client({ connectionString: admin.toString() });
    await check.connect();
    try {
      const left = await check.query('select 1 from pg_database where datname = $1', [name]);
      assert.equal(left.rowCount, 0);
    } finally {
      await check.end();
      await client.end().catch(() => undefined);
    }
  });
});

describe('startPostgres', () => {
  test('restart keeps the data, cuts connections while down, and serves again', async () => {
    const server = await startPostgres();
    try {
      const query = async (sql: string) => {
        const client = new pg.Client({ connectionString: server.url });
        client.on('error', () => undefined);
        await client.connect();
        try {
          return await client.query(sql);
        } finally {
          await client.end().catch(() => undefined);
        }
      };
      await query('create table kept (n int); insert into kept values (1), (2)');
      for (const mode of ['fast', 'immediate'] as const) {
        let refused: unknown;
        await server.restart({
          mode,
          whileDown: async () => {
            refused = await query('select 1').catch((error: unknown) => error);
          },
        });
        assert.ok(refused instanceof Error, `${mode}: no connection while down`);
        const { rows } = await query('select sum(n)::int as total from kept');
        assert.equal(rows[0].total, 3, `${mode}: data kept`);
      }
    } finally {
      await server.stop();
    }
  });
});

describe('startPostgres durability', () => {
  const settings = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string; setting: string }>(
        "select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes') order by name",
      );
      return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
    } finally {
      await client.end();
    }
  };
  const off = { fsync: 'off', full_page_writes: 'off', synchronous_commit: 'off' };
  const on = { fsync: 'on', full_page_writes: 'on', synchronous_commit: 'on' };

  test('tests run without fsync; durable: true keeps the defaults (for the bench)', async () => {
    const db = await createTestDatabase();
    try {
      assert.deepEqual(await settings(db.url), off);
    } finally {
      await db.drop();
    }
    const server = await startPostgres({ durable: true });
    try {
      assert.deepEqual(await settings(server.url), on);
    } finally {
      await server.stop();
    }
  });
});

describe('startTestIssuer', () => {
  let issuer: TestIssuer;
  let jwks: ReturnType<typeof createRemoteJWKSet>;
  const verify = (token: string) =>
    jwtVerify(token, jwks, {
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: ['ES384'],
      typ: 'at+jwt',
    });

  before(async () => {
    issuer = await startTestIssuer();
    // No cooldown, so that a token with an unknown kid makes jose refetch right away.
    jwks = createRemoteJWKSet(new URL(issuer.jwksUri), { cooldownDuration: 0 });
  });
  after(() => issuer.close());

  test('serves a Logto-shaped discovery document and JWKS', async () => {
    assert.match(issuer.issuer, /^http:\/\/127\.0\.0\.1:\d+\/oidc$/);
    const res = await fetch(`${issuer.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const config = (await res.json()) as Record<string, unknown>;
    assert.equal(config.issuer, issuer.issuer);
    assert.equal(config.jwks_uri, `${issuer.issuer}/jwks`);
    assert.deepEqual(config.id_token_signing_alg_values_supported, ['ES384']);
    const keys = (await (await fetch(issuer.jwksUri)).json()) as { keys: { kid: string }[] };
    assert.deepEqual(
      keys.keys.map((k) => k.kid),
      [issuer.kid],
    );
    assert.equal((await fetch(`${issuer.issuer}/nope`)).status, 404);
  });

  test('access tokens verify and look like Logto access tokens', async () => {
    const token = await issuer.accessToken({ sub: 'user_1', scope: 'read:cart' });
    const { payload, protectedHeader } = await verify(token);
    assert.deepEqual(protectedHeader, { alg: 'ES384', typ: 'at+jwt', kid: issuer.kid });
    assert.equal(payload.sub, 'user_1');
    assert.equal(payload.scope, 'read:cart');
    assert.equal(payload.iss, issuer.issuer);
    assert.equal(payload.aud, issuer.audience);
    assert.equal(typeof payload.jti, 'string');
    assert.equal(typeof payload.client_id, 'string');
    assert.equal(payload.exp! - payload.iat!, 3600);

    const fetched = issuer.requests;
    await verify(await issuer.accessToken());
    assert.equal(issuer.requests, fetched, 'jose caches the JWKS');
  });

  test('claims can be overridden and removed', async () => {
    const token = await issuer.accessToken({ aud: ['a', 'b'], exp: undefined, extra: 1 });
    const { payload } = decodeJwt(token);
    assert.deepEqual(payload.aud, ['a', 'b']);
    assert.equal('exp' in payload, false);
    assert.equal(payload.extra, 1);
  });

  test('the ID token and every attack token are rejected', async () => {
    const valid = await issuer.accessToken();
    const rejected: Record<string, string> = {
      idToken: await issuer.idToken(),
      idTokenWithApiAudience: await issuer.idToken({ aud: issuer.audience }),
      unsigned: issuer.unsignedToken(),
      hs256WithPem: await issuer.hs256WithPublicKey(),
      hs256WithJwk: await issuer.hs256WithPublicKey({}, 'jwk'),
      signedByStranger: await issuer.signedByStranger(),
      tamperedPayload: issuer.tamperPayload(valid, { sub: 'user_admin' }),
      tamperedSignature: issuer.tamperSignature(valid),
      expired: await issuer.accessToken({ expiresIn: -120 }),
      notYetValid: await issuer.accessToken({ notBefore: 600 }),
      wrongAudience: await issuer.accessToken({ aud: 'https://other.example' }),
      wrongIssuer: await issuer.accessToken({ iss: 'https://evil.example/oidc' }),
      wrongTyp: await issuer.accessToken({}, { typ: 'JWT' }),
      unknownKid: await issuer.accessToken({}, { kid: 'nope' }),
      headerAlgLies: await issuer.accessToken({}, { alg: 'ES256' }),
    };
    assert.equal(decodeJwt(rejected.idToken!).header.typ, 'JWT');
    assert.equal(typeof decodeJwt(rejected.idToken!).payload.nonce, 'string');
    assert.equal(decodeJwt(rejected.signedByStranger!).header.kid, issuer.kid);
    for (const [name, token] of Object.entries(rejected)) {
      await assert.rejects(verify(token), `${name} must be rejected`);
    }
    await verify(valid); // the original is still fine
  });

  test('key rotation: new kid verifies, old tokens until the old key is dropped', async () => {
    const oldKid = issuer.kid;
    const oldToken = await issuer.accessToken();
    await issuer.rotateKeys();
    assert.notEqual(issuer.kid, oldKid);
    assert.deepEqual(
      issuer.jwks.keys.map((k) => k.kid),
      [issuer.kid, oldKid],
    );
    const before = issuer.requests;
    const newToken = await issuer.accessToken();
    assert.equal(decodeJwt(newToken).header.kid, issuer.kid);
    await verify(newToken);
    assert.ok(issuer.requests > before, 'an unknown kid makes the verifier refetch the JWKS');
    await verify(oldToken);

    issuer.dropOldKeys();
    const fresh = createRemoteJWKSet(new URL(issuer.jwksUri));
    await assert.rejects(jwtVerify(oldToken, fresh, { issuer: issuer.issuer }));
    await jwtVerify(newToken, fresh, { issuer: issuer.issuer, audience: issuer.audience });
  });

  test('other algorithms and paths', async () => {
    const rs = await startTestIssuer({ alg: 'RS256', path: '', audience: 'urn:api' });
    try {
      assert.match(rs.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
      const set = createRemoteJWKSet(new URL(rs.jwksUri));
      const { payload } = await jwtVerify(await rs.accessToken(), set, {
        issuer: rs.issuer,
        audience: 'urn:api',
        algorithms: ['RS256'],
        typ: 'at+jwt',
      });
      assert.match(String(payload.sub), /^user_/);
      await assert.rejects(jwtVerify(await rs.hs256WithPublicKey(), set, { issuer: rs.issuer }));
    } finally {
      await rs.close();
    }
  });
});

describe('Chromium', () => {
  test('ensureChromium refuses a configured path that is not executable', async () => {
    const saved = process.env.GUESTMODE_TEST_CHROMIUM;
    process.env.GUESTMODE_TEST_CHROMIUM = '/nonexistent/chromium';
    try {
      await assert.rejects(ensureChromium(), /GUESTMODE_TEST_CHROMIUM/);
    } finally {
      if (saved === undefined) delete process.env.GUESTMODE_TEST_CHROMIUM;
      else process.env.GUESTMODE_TEST_CHROMIUM = saved;
    }
  });

  test('launchBrowser opens a page served by listen()', {
    skip: process.env.GUESTMODE_SKIP_BROWSER ? 'GUESTMODE_SKIP_BROWSER is set' : false,
  }, async () => {
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<title>testkit</title><p id="x">ok</p>');
    });
    const base = await listen(server);
    const browser = await launchBrowser();
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(base);
      assert.equal(await page.title(), 'testkit');
      assert.equal(await page.textContent('#x'), 'ok');
    } finally {
      await browser.close();
      await closeServer(server);
    }
  });
});

describe('helpers', () => {
  test('listen and closeServer, with a keep-alive connection open', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    const base = await listen(server);
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await (await fetch(base)).text(), 'ok');
    await closeServer(server);
    assert.equal(server.listening, false);
    await closeServer(server);
  });

  test('waitFor polls until truthy and gives up with the last error', async () => {
    let calls = 0;
    assert.equal(await waitFor(() => ++calls >= 3 && 'done', { intervalMs: 1 }), 'done');
    await assert.rejects(
      waitFor(
        () => {
          throw new Error('still broken');
        },
        { timeoutMs: 30, intervalMs: 5, message: 'thing' },
      ),
      (error: Error) => error.message.startsWith('thing') && error.cause instanceof Error,
    );
  });

  test('randomId', () => {
    assert.match(randomId(), /^[0-9a-f]{16}$/);
    assert.notEqual(randomId(), randomId());
  });
});
