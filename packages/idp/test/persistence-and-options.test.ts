import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createIdp, GuestmodeError } from '../src/index.js';
import { hashPassword, verifyPassword } from '../src/password.js';

const dir = mkdtempSync(join(tmpdir(), 'guestmode-idp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const quiet = { warn: () => {}, env: {} };

test('signing keys and apps survive a restart (file database, migrations applied once)', async () => {
  const database = join(dir, 'nested', 'idp.db');
  const first = createIdp({ ...quiet, database, endpoint: 'http://127.0.0.1', port: 0 });
  await first.listen();
  const { appId } = await first.createApplication({
    name: 'A',
    redirectUris: ['http://a.test/cb'],
  });
  const keys1 = await (await fetch(`${first.issuer}/jwks`)).json();
  await first.close();

  const second = createIdp({ ...quiet, database, endpoint: 'http://127.0.0.1', port: 0 });
  await second.listen();
  assert.deepEqual(await (await fetch(`${second.issuer}/jwks`)).json(), keys1);
  assert.equal((await second.store.findApplication(appId))?.name, 'A');
  await second.close();
});

test('options are validated at construction, naming the option', () => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ endpoint: 'nope' }, 'options.endpoint'],
    [{ endpoint: 'http://localhost:3001/path' }, 'options.endpoint'],
    [{ endpoint: 'http://user:pw@localhost:3001' }, 'options.endpoint'],
    [{ endpoint: 'ftp://localhost' }, 'options.endpoint'],
    [{ port: -1 }, 'options.port'],
    [{ port: 1.5 }, 'options.port'],
    [{ database: '' }, 'options.database'],
    [{ cleanupInterval: -5 }, 'options.cleanupInterval'],
    [{ warn: 'loudly' }, 'options.warn'],
    // An unknown key is refused with its path rather than ignored.
    [{ databse: 'x' }, 'options.databse'],
  ];
  for (const [options, option] of bad) {
    assert.throws(
      () => createIdp({ ...quiet, database: ':memory:', ...options }),
      (error: unknown) =>
        error instanceof TypeError &&
        (error as TypeError & { option?: string }).option === option &&
        error.message.startsWith(`${option}: `) &&
        !error.message.includes('pw@'),
      option,
    );
  }
  assert.throws(
    () => createIdp({ database: ':memory:', env: { NODE_ENV: 'production' } }),
    (error: unknown) =>
      error instanceof GuestmodeError &&
      error.code === 'production_refused' &&
      error.status === 400,
  );
  const allowed = createIdp({
    database: ':memory:',
    env: { NODE_ENV: 'production' },
    allowProduction: true,
  });
  void allowed.close();
});

test('admin functions validate their input', async () => {
  const idp = createIdp({ ...quiet, database: ':memory:' });
  await assert.rejects(idp.createApplication({ name: '', redirectUris: ['http://a/cb'] }), /name/);
  await assert.rejects(idp.createApplication({ name: 'A', redirectUris: [] }), /redirectUris/);
  await assert.rejects(
    idp.createApplication({
      name: 'A',
      redirectUris: ['http://a/cb'],
      postLogoutRedirectUris: ['javascript:x'],
    }),
    /postLogoutRedirectUris\[0\]/,
  );
  await assert.rejects(idp.createResource({ indicator: 'not a uri' }), /indicator/);
  await assert.rejects(
    idp.createResource({ indicator: 'https://admin.guestmode.local/api' }),
    /reserved/,
  );
  await assert.rejects(idp.createUser({ username: 'ok-name', password: 'short' }), /at least 8/);
  await idp.close();
});

test('password hashes are salted scrypt and compare correctly', async () => {
  const a = await hashPassword('correct horse battery');
  const b = await hashPassword('correct horse battery');
  assert.notEqual(a, b);
  assert.match(a, /^scrypt\$16\$8\$1\$/);
  assert.equal(await verifyPassword('correct horse battery', a), true);
  assert.equal(await verifyPassword('Correct horse battery', a), false);
  assert.equal(await verifyPassword('x', 'garbage'), false);
});
