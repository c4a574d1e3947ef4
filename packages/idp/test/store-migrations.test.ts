import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SchemaTooNewError } from '@guestmode/core/migrations';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { runIdpCli } from '../src/index.js';
import { openSqliteStore } from '../src/store/sqlite.js';

// The driver this Node.js can load (better-sqlite3 13 segfaults on Node 20).
const { Database } = loadSqliteDriver();

const dir = mkdtempSync(join(tmpdir(), 'guestmode-idp-migrations-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the store refuses a database migrated by a newer release', async () => {
  const file = join(dir, 'idp.db');
  const store = openSqliteStore(file);
  await store.close();
  const db = new Database(file);
  const known = db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number;
  assert.ok(known >= 1);
  // Opening again changes nothing.
  await openSqliteStore(file).close();
  assert.equal(db.prepare('SELECT COUNT(*) FROM schema_migrations').pluck().get(), known);
  db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)').run(known + 1);
  db.close();
  assert.throws(
    () => openSqliteStore(file),
    (error: unknown) =>
      error instanceof SchemaTooNewError &&
      error.databaseVersion === known + 1 &&
      error.codeVersion === known,
  );
});

test('the CLI says so plainly instead of crashing', async () => {
  const file = join(dir, 'cli.db');
  await openSqliteStore(file).close();
  const db = new Database(file);
  db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)').run();
  db.close();
  const stderr: string[] = [];
  const code = await runIdpCli(
    ['app', 'create', '--name', 'A', '--redirect-uri', 'http://a.test/cb', '--database-url', file],
    {
      stdout: () => {},
      stderr: (text) => stderr.push(text),
      env: {},
    },
  );
  assert.equal(code, 1);
  assert.match(stderr.join('\n'), /version 999/);
});
