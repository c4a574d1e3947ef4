import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Idp, runIdpCli } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'guestmode-idp-cli-'));
const database = join(dir, 'idp.db');
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]) {
  return runWith({}, ...argv);
}

async function runWith(env: NodeJS.ProcessEnv, ...argv: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runIdpCli([...argv, '--database-url', `sqlite:${database}`], {
    stdout: (t) => stdout.push(t),
    stderr: (t) => stderr.push(t),
    stdin: async () => 'correct horse battery\n',
    env,
  });
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

test('admin commands print JSON', async () => {
  const app = await run(
    'app',
    'create',
    '--name',
    'Bookstore',
    '--redirect-uri',
    'http://localhost:3000/api/logto/sign-in-callback',
    '--post-sign-out-redirect-uri',
    'http://localhost:3000',
  );
  assert.equal(app.code, 0, app.stderr);
  const { appId, appSecret } = JSON.parse(app.stdout) as { appId: string; appSecret: string };
  assert.match(appId, /^[a-z0-9]{21}$/);
  assert.match(appSecret, /^[A-Za-z0-9_-]{43}$/, 'URL-safe secret');

  const resource = await run('resource', 'create', '--indicator', 'https://api.bookstore.local');
  assert.equal(resource.code, 0, resource.stderr);
  assert.deepEqual(JSON.parse(resource.stdout), { indicator: 'https://api.bookstore.local' });

  const user = await run('user', 'create', '--username', 'alice', '--password-stdin');
  assert.equal(user.code, 0, user.stderr);
  const created = JSON.parse(user.stdout) as { id: string; username: string };
  assert.equal(created.username, 'alice');
  assert.doesNotMatch(user.stdout + user.stderr, /correct horse/);

  const m2m = await run('app', 'create-m2m', '--name', 'Admin');
  assert.equal(m2m.code, 0, m2m.stderr);
  assert.ok((JSON.parse(m2m.stdout) as { appId: string }).appId);
});

test('bad input: usage errors and bad options exit 2, refusals exit 1 naming the problem', async () => {
  const missing = await run('app', 'create', '--name', 'X');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing --redirect-uri/);
  const unknownFlag = await run('user', 'create', '--nope');
  assert.equal(unknownFlag.code, 2);
  const unknownCommand = await run('frobnicate');
  assert.equal(unknownCommand.code, 2);
  const badUri = await run('app', 'create', '--name', 'X', '--redirect-uri', 'not a url');
  assert.equal(badUri.code, 2);
  assert.match(badUri.stderr, /^error: input\.redirectUris\[0\]: must be an absolute URL$/m);
  const dupe = await runWith(
    { GUESTMODE_IDP_USER_PASSWORD: 'another password' },
    'user',
    'create',
    '--username',
    'alice',
  );
  assert.equal(dupe.code, 1);
  assert.match(dupe.stderr, /conflict/);
  assert.doesNotMatch(dupe.stderr, /another password/);
  const dupeResource = await run(
    'resource',
    'create',
    '--indicator',
    'https://api.bookstore.local',
  );
  assert.equal(dupeResource.code, 1);
  const file = join(dir, 'bad.json');
  writeFileSync(file, '{ not json');
  const badFile = await run('connector', 'add', '--file', file);
  assert.equal(badFile.code, 1);
  assert.match(badFile.stderr, /invalid_json/);
  const badConnector = join(dir, 'connector.json');
  writeFileSync(badConnector, JSON.stringify({ id: 'x', factoryId: 'oauth2' }));
  const invalid = await run('connector', 'add', '--file', badConnector);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /invalid_connector_config/);
});

test('`idp` starts the provider on the given port, prints its URL, stops on signal', async () => {
  let stop!: () => void;
  const stopSignal = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const lines: string[] = [];
  let started: Idp | undefined;
  const running = runIdpCli(
    ['--database-url', database, '--endpoint', 'http://127.0.0.1', '--port', '0'],
    {
      stdout: (t) => lines.push(t),
      stderr: () => {},
      env: {},
      stopSignal,
      onListening: (idp) => {
        started = idp;
      },
    },
  );
  for (let i = 0; i < 100 && !started; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(started);
  assert.match(lines.join('\n'), new RegExp(`listening on ${started.url}`));
  const discovery = await fetch(`${started.issuer}/.well-known/openid-configuration`);
  assert.equal(discovery.status, 200);
  stop();
  assert.equal(await running, 0);
});

test('NODE_ENV=production is refused unless --allow-production', async () => {
  const stderr: string[] = [];
  const code = await runIdpCli(
    ['user', 'create', '--username', 'zed', '--database-url', database],
    {
      stdout: () => {},
      stderr: (t) => stderr.push(t),
      env: { NODE_ENV: 'production', GUESTMODE_IDP_USER_PASSWORD: 'password123' },
    },
  );
  assert.equal(code, 1);
  assert.match(stderr.join(''), /production_refused/);
});
