// The bench's own view of the databases: row counts before and after each run (the proof that
// every request did its work), and direct inserts where going through HTTP would only measure the
// set-up (users' carts, a million expired guests). Table shapes are those of Guestmode's adapters
// (docs/architecture.md, "Data model") and of Better Auth's migrations.
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import pg from 'pg';

export type Dialect = 'sqlite' | 'postgres';

/** Counts of Guestmode's tables. */
export interface GuestmodeRows {
  guests: number;
  mergedGuests: number;
  attributes: number;
  guestAttributes: number;
  userAttributes: number;
}

/** A connection the bench uses beside the server (SQLite: another connection to the file). */
export interface BenchDb {
  readonly dialect: Dialect;
  query<T>(sql: { sqlite: string; postgres: string }, params?: unknown[]): Promise<T[]>;
  guestmodeRows(): Promise<GuestmodeRows>;
  /** Attribute rows written at or after `since` (epoch ms). */
  attributesUpdatedSince(since: number): Promise<number>;
  betterAuthRows(): Promise<{ users: number; sessions: number }>;
  /** Inserts `cart` for each user id (owner `u:<id>`), in one transaction. */
  insertUserCarts(userIds: readonly string[], cart: (i: number) => string): Promise<void>;
  close(): Promise<void>;
}

/** What a run changed in Guestmode's tables. */
export function rowsDelta(before: GuestmodeRows, after: GuestmodeRows) {
  return {
    guests: after.guests - before.guests,
    merged: after.mergedGuests - before.mergedGuests,
    attributes: after.attributes - before.attributes,
    guestAttributes: after.guestAttributes - before.guestAttributes,
    userAttributes: after.userAttributes - before.userAttributes,
  };
}

/** A bench connection to `sqlite:<path>` or a `postgres://` URL, the servers' own spelling. */
export function openBenchDb(databaseUrl: string): BenchDb {
  return databaseUrl.startsWith('sqlite:')
    ? openSqliteDb(databaseUrl.slice('sqlite:'.length))
    : openPostgresDb(databaseUrl);
}

/** Runs `task` with a bench connection to `databaseUrl`, closed afterwards. */
export async function withBenchDb<T>(
  databaseUrl: string,
  task: (bench: BenchDb) => Promise<T>,
): Promise<T> {
  const bench = openBenchDb(databaseUrl);
  try {
    return await task(bench);
  } finally {
    await bench.close();
  }
}

export function openSqliteDb(path: string): BenchDb {
  const db = new (loadSqliteDriver().Database)(path);
  db.pragma('busy_timeout = 10000');
  const one = (sql: string) => Number((db.prepare(sql).pluck().get() as number | bigint) ?? 0);
  return {
    dialect: 'sqlite',
    async query<T>(sql: { sqlite: string }, params: unknown[] = []) {
      return db.prepare(sql.sqlite).all(...params) as T[];
    },
    async guestmodeRows() {
      return {
        guests: one('SELECT COUNT(*) FROM gm_guests'),
        mergedGuests: one('SELECT COUNT(*) FROM gm_guests WHERE merged_into IS NOT NULL'),
        attributes: one('SELECT COUNT(*) FROM gm_attributes'),
        guestAttributes: one(
          "SELECT COUNT(*) FROM gm_attributes WHERE owner >= 'g:' AND owner < 'g;'",
        ),
        userAttributes: one(
          "SELECT COUNT(*) FROM gm_attributes WHERE owner >= 'u:' AND owner < 'u;'",
        ),
      };
    },
    async attributesUpdatedSince(since) {
      return Number(
        db.prepare('SELECT COUNT(*) FROM gm_attributes WHERE updated_at >= ?').pluck().get(since),
      );
    },
    async betterAuthRows() {
      return {
        users: one('SELECT COUNT(*) FROM "user"'),
        sessions: one('SELECT COUNT(*) FROM "session"'),
      };
    },
    async insertUserCarts(userIds, cart) {
      const insert = db.prepare(
        'INSERT INTO gm_attributes (owner, name, value, size, updated_at) VALUES (?, ?, ?, ?, ?)',
      );
      const now = Date.now();
      db.transaction(() => {
        userIds.forEach((id, i) => {
          const value = cart(i);
          insert.run(`u:${id}`, 'cart', value, Buffer.byteLength(value), now);
        });
      })();
    },
    async close() {
      db.close();
    },
  };
}

export function openPostgresDb(url: string): BenchDb {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  const one = async (sql: string) => Number((await pool.query(sql)).rows[0]?.n ?? 0);
  return {
    dialect: 'postgres',
    async query<T>(sql: { postgres: string }, params: unknown[] = []) {
      return (await pool.query(sql.postgres, params)).rows as T[];
    },
    async guestmodeRows() {
      return {
        guests: await one('SELECT COUNT(*) AS n FROM gm_guests'),
        mergedGuests: await one(
          'SELECT COUNT(*) AS n FROM gm_guests WHERE merged_into IS NOT NULL',
        ),
        attributes: await one('SELECT COUNT(*) AS n FROM gm_attributes'),
        guestAttributes: await one(
          "SELECT COUNT(*) AS n FROM gm_attributes WHERE owner LIKE 'g:%'",
        ),
        userAttributes: await one("SELECT COUNT(*) AS n FROM gm_attributes WHERE owner LIKE 'u:%'"),
      };
    },
    async attributesUpdatedSince(since) {
      const { rows } = await pool.query(
        'SELECT COUNT(*) AS n FROM gm_attributes WHERE updated_at >= $1',
        [since],
      );
      return Number(rows[0]?.n ?? 0);
    },
    async betterAuthRows() {
      return {
        users: await one('SELECT COUNT(*) AS n FROM "user"'),
        sessions: await one('SELECT COUNT(*) AS n FROM "session"'),
      };
    },
    async insertUserCarts(userIds, cart) {
      const now = Date.now();
      const values = userIds.map((_, i) => cart(i));
      await pool.query(
        `INSERT INTO gm_attributes (owner, name, value, size, updated_at)
         SELECT 'u:' || id, 'cart', value, octet_length(value), $3
         FROM unnest($1::text[], $2::text[]) AS t(id, value)`,
        [userIds, values, now],
      );
    },
    async close() {
      await pool.end();
    },
  };
}

/** Creates database `name` on the server of `adminUrl`; returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The server's version and durability settings, in one line for the report. */
export async function postgresSettings(adminUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const names = ['fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers'];
    const { rows } = await client.query(
      'SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1) ORDER BY name',
      [names],
    );
    const version = (await client.query('SHOW server_version')).rows[0].server_version;
    return `PostgreSQL ${version}: ${rows.map((r) => `${r.name}=${r.setting}${r.unit ? ` ${r.unit}` : ''}`).join(', ')}`;
  } finally {
    await client.end();
  }
}
