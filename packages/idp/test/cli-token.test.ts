import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { type Idp, runIdpCli } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'guestmode-idp-token-'));
const database = `sqlite:${join(dir, 'idp.db')}`;
const RESOURCE = 'http://localhost:4000/api';

let stopProvider: () => void = () => {};
let running: Promise<number> | undefined;
let idp: Idp;
let userId: string;
let appId: string;

async function run(...argv: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runIdpCli([...argv, '--database-url', database, '--endpoint', idp.url], {
    stdout: (t) => stdout.push(t),
    stderr: (t) => stderr.push(t),
    stdin: async () => 'correct horse battery',
    env: {},
  });
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

before(async () => {
  // The provider runs from the same database the commands write, as `guestmode-idp` and a second
  // shell would: the token must verify against the running provider's JWKS.
  const listening = new Promise<Idp>((resolve) => {
    running = runIdpCli(
      ['--database-url', database, '--endpoint', 'http://127.0.0.1', '--port', '0'],
      {
        stdout: () => {},
        stderr: () => {},
        env: {},
        stopSignal: new Promise<void>((resolve) => {
          stopProvider = resolve;
        }),
        onListening: resolve,
      },
    );
  });
  idp = await listening;
  const app = await run(
    'app',
    'create',
    '--name',
    'Bookstore',
    '--redirect-uri',
    'http://localhost:3000/callback',
  );
  appId = (JSON.parse(app.stdout) as { appId: string }).appId;
  assert.equal(
    (
      await run(
        'resource',
        'create',
        '--indicator',
        RESOURCE,
        '--scope',
        'read',
        '--scope',
        'write',
      )
    ).code,
    0,
  );
  const user = await run(
    'user',
    'create',
    '--username',
    'alice',
    '--email',
    'alice@example.com',
    '--password-stdin',
  );
  userId = (JSON.parse(user.stdout) as { id: string }).id;
});

after(async () => {
  stopProvider();
  await running;
  rmSync(dir, { recursive: true, force: true });
});

test('token prints a resource access token signed with the provider keys', async () => {
  const out = await run('token', '--user', 'alice@example.com', '--resource', RESOURCE);
  assert.equal(out.code, 0, out.stderr);
  const issued = JSON.parse(out.stdout) as Record<string, unknown>;
  assert.deepEqual(
    { ...issued, accessToken: undefined },
    {
      accessToken: undefined,
      tokenType: 'Bearer',
      expiresIn: 3600,
      issuer: idp.issuer,
      audience: RESOURCE,
      userId,
      clientId: appId,
      scope: 'read write',
    },
  );
  const token = issued.accessToken as string;
  const header = decodeProtectedHeader(token);
  assert.equal(header.alg, 'ES384');
  assert.equal(header.typ, 'at+jwt');

  // The provider's published keys verify it, like a token from its token endpoint.
  const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as Parameters<
    typeof createLocalJWKSet
  >[0];
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: idp.issuer,
    audience: RESOURCE,
    typ: 'at+jwt',
  });
  assert.equal(payload.sub, userId);
  assert.equal(payload.client_id, appId);
  assert.equal(payload.scope, 'read write');
  assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 3600);
  assert.ok(payload.jti);

  // Username, id and a narrower scope name the same user.
  const narrow = await run('token', '--user', userId, '--resource', RESOURCE, '--scope', 'read');
  assert.equal(narrow.code, 0, narrow.stderr);
  const narrowed = decodeJwt((JSON.parse(narrow.stdout) as { accessToken: string }).accessToken);
  assert.equal(narrowed.scope, 'read');
  assert.equal(narrowed.sub, userId);
  const byName = await run('token', '--user', 'alice', '--resource', RESOURCE, '--app', appId);
  assert.equal(byName.code, 0, byName.stderr);
});

test("the engine's verifier takes the token and merges the guest into its user", async () => {
  const out = await run('token', '--user', 'alice', '--resource', RESOURCE);
  const { accessToken } = JSON.parse(out.stdout) as { accessToken: string };
  const guestmode = createGuestmode({
    storage: await openSqliteStorage({ database: ':memory:' }),
    mergeRules: { cart: 'sum-by-key' },
    accessTokens: { issuer: idp.issuer, audience: RESOURCE },
  });
  try {
    const { token } = await guestmode.createGuest({ cart: [{ id: 'book-1', quantity: 2 }] });
    const verified = await guestmode.verifyAccessToken(accessToken);
    assert.equal(verified.userId, userId);
    const { result } = await guestmode.merge({ guestToken: token, userId: verified.userId });
    assert.equal(result.userId, userId);
    assert.deepEqual(result.attributes.cart, [{ id: 'book-1', quantity: 2 }]);
  } finally {
    await guestmode.close();
  }
});

test('token refuses unknown users, resources, scopes and apps, and production', async () => {
  const cases: [string[], RegExp][] = [
    [['--user', 'bob', '--resource', RESOURCE], /not_found: no user/],
    [['--user', 'alice', '--resource', 'https://unknown.example'], /not_found: unknown resource/],
    [
      ['--user', 'alice', '--resource', RESOURCE, '--scope', 'admin'],
      /invalid_request: scope admin/,
    ],
    [['--user', 'alice', '--resource', RESOURCE, '--app', 'nope'], /not_found: no traditional/],
    [
      ['--user', 'alice', '--resource', 'https://admin.guestmode.local/api'],
      /forbidden: the management API/,
    ],
  ];
  for (const [argv, message] of cases) {
    const out = await run('token', ...argv);
    assert.equal(out.code, 1, argv.join(' '));
    assert.match(out.stderr, message);
    assert.equal(out.stdout, '');
  }
  const missing = await run('token', '--user', 'alice');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing --resource/);

  const stderr: string[] = [];
  const production = await runIdpCli(
    ['token', '--user', 'alice', '--resource', RESOURCE, '--database-url', database],
    { stdout: () => {}, stderr: (t) => stderr.push(t), env: { NODE_ENV: 'production' } },
  );
  assert.equal(production, 1);
  assert.match(stderr.join('\n'), /production_refused/);
});

test('token --help explains the command', async () => {
  const out = await run('token', '--help');
  assert.equal(out.code, 0);
  assert.match(out.stdout, /Usage: guestmode-idp token --user USER --resource URI/);
  assert.match(out.stdout, /id, username or email/);
});
