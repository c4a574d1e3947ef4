// What a Bookstore has stored, read straight from its SQLite database by the test: the Next
// Bookstores' engines run in the `next start` process, so a test cannot ask them, and reading
// the file the same way for every Bookstore keeps one cross-site suite for all of them.
import assert from 'node:assert/strict';

/** What the cross-site suite reads of a Bookstore's stored data. */
export interface BookstoreRecords {
  /** How many guests were ever created (merged ones included). */
  guestCount(): Promise<number>;
  /** The cart of the guest `token` names, or `null` once that guest is merged or gone. */
  guestCart(token: string): Promise<unknown>;
  /** The cart of the account `sub`. */
  userCart(sub: string): Promise<unknown>;
}

/** The part of a better-sqlite3 database the records read (testkit loads no SQLite driver). */
export interface SqliteReader {
  prepare(sql: string): { get(...params: unknown[]): unknown };
  close(): unknown;
}

/**
 * Reads a Bookstore's guests and carts from its Guestmode SQLite database. `open` is called on
 * the first read, since the app creates the file on the first request that needs it.
 */
function sqliteRecords(open: () => SqliteReader): BookstoreRecords & { close(): void } {
  let db: SqliteReader | undefined;
  const database = () => {
    db ??= open();
    return db;
  };
  const cartOf = (owner: string): unknown => {
    const row = database()
      .prepare("SELECT value FROM gm_attributes WHERE owner = ? AND name = 'cart'")
      .get(owner) as { value: string } | undefined;
    return row ? JSON.parse(row.value) : undefined;
  };
  return {
    async guestCount() {
      return (database().prepare('SELECT COUNT(*) AS n FROM gm_guests').get() as { n: number }).n;
    },
    async guestCart(token) {
      const id = /^gm_([\w-]+)\./.exec(token)?.[1];
      assert.ok(id, 'a guest credential');
      const row = database().prepare('SELECT merged_into FROM gm_guests WHERE id = ?').get(id) as
        | { merged_into: string | null }
        | undefined;
      return row && row.merged_into === null ? cartOf(`g:${id}`) : null;
    },
    async userCart(sub) {
      return cartOf(`u:${sub}`);
    },
    close() {
      db?.close();
      db = undefined;
    },
  };
}

/** A better-sqlite3 `Database` class (testkit loads no SQLite driver: the caller passes its own). */
export type SqliteReaderClass = new (
  file: string,
  options: { readonly: boolean; fileMustExist: boolean },
) => SqliteReader;

/**
 * A started Bookstore (`app`) with the records of its Guestmode SQLite database at `file`,
 * opened read-only with `Database` on the first read; closing it closes both.
 *
 * @example
 * const { Database } = loadSqliteDriver();
 * return withSqliteRecords(demo, Database, join(dataDir, 'guestmode.db'));
 */
export function withSqliteRecords<T extends { close(): Promise<void> }>(
  app: T,
  Database: SqliteReaderClass,
  file: string,
): T & { readonly records: BookstoreRecords } {
  const records = sqliteRecords(() => new Database(file, { readonly: true, fileMustExist: true }));
  return {
    ...app,
    records,
    async close() {
      records.close();
      await app.close();
    },
  };
}
