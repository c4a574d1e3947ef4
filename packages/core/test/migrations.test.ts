import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { migrateSqlite, SchemaTooNewError } from '@guestmode/core/migrations';
import { openPostgresStorage } from '@guestmode/core/postgres';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { createTestDatabase, type TestDatabase } from '@guestmode/testkit';
import pg from 'pg';

// The driver this Node.js can load (better-sqlite3 13 segfaults on Node 20).
const { Database } = loadSqliteDriver();

const dir = mkdtempSync(join(tmpdir(), 'gm-migrations-'));
let database: TestDatabase | undefined;
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await database?.drop();
});

function isTooNew(databaseVersion: number, codeVersion: number) {
  return (error: unknown) =>
    error instanceof SchemaTooNewError &&
    error.databaseVersion === databaseVersion &&
    error.codeVersion === codeVersion &&
    error.message.includes(`version ${databaseVersion}`) &&
    error.message.includes(`version ${codeVersion}`);
}

describe('the migration runner', () => {
  const steps = [
    'CREATE TABLE notes (id TEXT PRIMARY KEY)',
    "INSERT INTO notes (id) VALUES ('first')",
  ];

  it('runs each step once and records it', () => {
    const db = new Database(':memory:');
    assert.equal(migrateSqlite(db, steps, { table: 'app_migrations' }), 2);
    assert.equal(migrateSqlite(db, steps, { table: 'app_migrations' }), 2);
    assert.deepEqual(
      db.prepare('SELECT version FROM app_migrations ORDER BY version').pluck().all(),
      [1, 2],
    );
    assert.equal(db.prepare('SELECT COUNT(*) FROM notes').pluck().get(), 1);
    // A later release appends a step; only that one runs.
    migrateSqlite(db, [...steps, "INSERT INTO notes (id) VALUES ('second')"], {
      table: 'app_migrations',
    });
    assert.equal(db.prepare('SELECT COUNT(*) FROM notes').pluck().get(), 2);
    db.close();
  });

  it('leaves the database as it was when a step fails', () => {
    const db = new Database(':memory:');
    assert.throws(() => migrateSqlite(db, [...steps, 'CREATE TABLE notes (x)']), /already exists/);
    assert.equal(
      db
        .prepare("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('notes', 'gm_migrations')")
        .pluck()
        .get(),
      0,
    );
    db.close();
  });

  it('refuses a database migrated by a newer release, changing nothing', () => {
    const db = new Database(':memory:');
    migrateSqlite(db, steps);
    db.prepare('INSERT INTO gm_migrations (version, applied_at) VALUES (3, 0)').run();
    assert.throws(() => migrateSqlite(db, steps), isTooNew(3, 2));
    assert.equal(db.inTransaction, false);
    assert.equal(db.prepare('SELECT COUNT(*) FROM notes').pluck().get(), 1);
    db.close();
  });

  it('refuses a table name that is not a plain identifier', () => {
    const db = new Database(':memory:');
    assert.throws(() => migrateSqlite(db, steps, { table: 'x; DROP TABLE y' }), TypeError);
    db.close();
  });
});

describe('the adapters refuse a schema newer than the code', () => {
  it('SQLite', async () => {
    const file = join(dir, 'newer.db');
    const storage = await openSqliteStorage({ database: file, backgroundCheckpoints: false });
    await storage.close();
    const db = new Database(file);
    const known = db.prepare('SELECT MAX(version) FROM gm_migrations').pluck().get() as number;
    db.prepare('INSERT INTO gm_migrations (version, applied_at) VALUES (?, 0)').run(known + 1);
    db.close();
    await assert.rejects(openSqliteStorage({ database: file }), isTooNew(known + 1, known));
  });

  it('PostgreSQL', async () => {
    database = await createTestDatabase();
    const storage = await openPostgresStorage({ database: database.url });
    await storage.close();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ v: number }>(
        'SELECT MAX(version) AS v FROM gm_migrations',
      );
      const known = rows[0]!.v;
      await client.query('INSERT INTO gm_migrations (version, applied_at) VALUES ($1, 0)', [
        known + 1,
      ]);
      await assert.rejects(
        openPostgresStorage({ database: database.url }),
        isTooNew(known + 1, known),
      );
    } finally {
      await client.end();
    }
  });
});

describe("a user's merged guests are found through an index", () => {
  const BY_USER =
    'SELECT id, merged_at, merge_result FROM gm_guests WHERE merged_into = %s ORDER BY merged_at, id';

  it('SQLite', async () => {
    const file = join(dir, 'merged-into.db');
    const storage = await openSqliteStorage({ database: file, backgroundCheckpoints: false });
    await storage.close();
    const db = new Database(file);
    try {
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${BY_USER.replace('%s', '?')}`).all('user-1') as {
        detail: string;
      }[];
      const details = plan.map((step) => step.detail).join('\n');
      assert.match(details, /USING INDEX gm_guests_merged_into/);
      assert.doesNotMatch(details, /TEMP B-TREE/, 'the index gives the order too');
    } finally {
      db.close();
    }
  });

  it('PostgreSQL', async () => {
    const own = await createTestDatabase();
    try {
      const storage = await openPostgresStorage({ database: own.url });
      await storage.close();
      const client = new pg.Client({ connectionString: own.url });
      await client.connect();
      try {
        // An empty table is scanned whatever indexes exist; the plan must be able to avoid it.
        await client.query('SET enable_seqscan = off');
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN ${BY_USER.replace('%s', "'user-1'")}`,
        );
        assert.match(rows.map((r) => r['QUERY PLAN']).join('\n'), /gm_guests_merged_into/);
      } finally {
        await client.end();
      }
    } finally {
      await own.drop();
    }
  });
});
