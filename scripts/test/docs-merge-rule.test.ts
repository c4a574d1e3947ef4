// The custom merge rule of docs/getting-started.md, run as written (docs/examples/) on both
// databases: the guest's own rows move to the user in the merge's transaction, a preview leaves
// them where they were, and a retried merge moves nothing twice.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { createGuestmode, type Guestmode } from '@guestmode/core';
import { openPostgresStorage } from '@guestmode/core/postgres';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { createTestDatabase } from '@guestmode/testkit';
import pg from 'pg';
import { WISHLIST_TABLE, wishlistRule } from '../../docs/examples/wishlist-merge-rule.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The app's side of the database: run a statement, read the rows of an owner. */
interface AppDb {
  exec(sql: string, params: unknown[]): Promise<void>;
  books(owner: string): Promise<string[]>;
}

async function scenario(guestmode: Guestmode, db: AppDb) {
  const { guest, token } = await guestmode.createGuest({ wishlist: 2 });
  for (const book of ['kokoro', 'sanshiro']) {
    await db.exec('INSERT INTO wishlist_items (owner, book) VALUES ($1, $2)', [
      `guest:${guest.id}`,
      book,
    ]);
  }
  await db.exec('INSERT INTO wishlist_items (owner, book) VALUES ($1, $2)', ['user:u1', 'kokoro']);

  const preview = await guestmode.previewMerge({ guestToken: token, userId: 'u1' });
  assert.equal(preview.after.wishlist, 2);
  assert.deepEqual(await db.books(`guest:${guest.id}`), ['kokoro', 'sanshiro'], 'rolled back');

  const { result } = await guestmode.merge({ guestToken: token, userId: 'u1' });
  assert.equal(result.attributes.wishlist, 2);
  assert.deepEqual(await db.books('user:u1'), ['kokoro', 'sanshiro']);
  assert.deepEqual(await db.books(`guest:${guest.id}`), []);

  const retry = await guestmode.merge({ guestToken: token, userId: 'u1' });
  assert.equal(retry.replayed, true);
  assert.deepEqual(await db.books('user:u1'), ['kokoro', 'sanshiro']);
}

test('the guide shows the example file as it is', () => {
  const guide = readFileSync(new URL('../../docs/getting-started.md', import.meta.url), 'utf8');
  const example = readFileSync(
    new URL('../../docs/examples/wishlist-merge-rule.ts', import.meta.url),
    'utf8',
  );
  assert.ok(
    guide.includes(`\`\`\`ts\n${example}\`\`\``),
    'docs/getting-started.md quotes it whole',
  );
});

test('SQLite: the rule moves the rows through the transaction', async () => {
  const { Database } = loadSqliteDriver();
  const db = new Database(':memory:');
  db.exec(WISHLIST_TABLE);
  const guestmode = createGuestmode({
    storage: await openSqliteStorage({ database: db }),
    mergeRules: { wishlist: wishlistRule },
  });
  cleanups.push(
    () => db.close(),
    () => guestmode.close(),
  );
  await scenario(guestmode, {
    async exec(sql, params) {
      db.prepare(sql.replace(/\$\d+/g, '?')).run(...params);
    },
    async books(owner) {
      return (
        db.prepare('SELECT book FROM wishlist_items WHERE owner = ? ORDER BY book').all(owner) as {
          book: string;
        }[]
      ).map((row) => row.book);
    },
  });
});

test('PostgreSQL: the rule moves the rows through the transaction', async () => {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  await pool.query(WISHLIST_TABLE);
  const guestmode = createGuestmode({
    storage: await openPostgresStorage({ database: database.url }),
    mergeRules: { wishlist: wishlistRule },
  });
  cleanups.push(
    () => pool.end(),
    () => guestmode.close(),
  );
  await scenario(guestmode, {
    async exec(sql, params) {
      await pool.query(sql, params);
    },
    async books(owner) {
      const { rows } = await pool.query<{ book: string }>(
        'SELECT book FROM wishlist_items WHERE owner = $1 ORDER BY book',
        [owner],
      );
      return rows.map((row) => row.book);
    },
  });
});
