import type { MergeRule } from '@guestmode/core';
import type BetterSqlite3 from 'better-sqlite3';
import type { PoolClient } from 'pg';

/**
 * The app's own table: one row per saved book, owned by `guest:<id>` or `user:<id>`. Guestmode
 * never reads it; the merge rule below moves a guest's rows to the user.
 */
export const WISHLIST_TABLE = `CREATE TABLE IF NOT EXISTS wishlist_items (
  owner TEXT NOT NULL,
  book TEXT NOT NULL,
  PRIMARY KEY (owner, book)
)`;

/**
 * The rule of the `wishlist` attribute (the number of saved books, written beside the rows so
 * the guest's profile says it has some). It runs inside the merge's transaction: the rows move
 * in the same commit as the guest, or not at all, and a preview rolls them back.
 */
export const wishlistRule: MergeRule = async ({ guestId, userId, transaction }) => {
  const from = `guest:${guestId}`;
  const to = `user:${userId}`;
  let count: number;
  if (transaction.dialect === 'sqlite') {
    const db = transaction.handle as BetterSqlite3.Database;
    db.prepare(
      'INSERT OR IGNORE INTO wishlist_items (owner, book) SELECT ?, book FROM wishlist_items WHERE owner = ?',
    ).run(to, from);
    db.prepare('DELETE FROM wishlist_items WHERE owner = ?').run(from);
    count = (
      db.prepare('SELECT count(*) AS n FROM wishlist_items WHERE owner = ?').get(to) as {
        n: number;
      }
    ).n;
  } else {
    const client = transaction.handle as PoolClient;
    await client.query(
      `INSERT INTO wishlist_items (owner, book) SELECT $1, book FROM wishlist_items WHERE owner = $2
       ON CONFLICT DO NOTHING`,
      [to, from],
    );
    await client.query('DELETE FROM wishlist_items WHERE owner = $1', [from]);
    const { rows } = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM wishlist_items WHERE owner = $1',
      [to],
    );
    count = Number(rows[0]!.n);
  }
  return { value: count, outcome: 'combined' };
};
