import pg from 'pg';
import { GuestmodeError } from '../errors.js';
import { assertWithinLimits, checkMergeable, guestWriteTimes } from './checks.js';
import {
  type GuestCredentialCheck,
  type GuestRow,
  type GuestStats,
  type GuestStorage,
  type GuestTimes,
  type MergeOutcome,
  type MergeWork,
  type NewGuestRow,
  ownerKey,
  type Principal,
  type StorageLimits,
  type StoredAttribute,
} from './types.js';

export interface PostgresStorageOptions {
  /** A `postgres://` connection string, or your app's own `pg.Pool` (to share transactions). */
  readonly database: string | pg.Pool;
  /** Pool size when Guestmode opens the pool itself. Default 10. */
  readonly maxConnections?: number;
}

// Every migration runs under one advisory lock, so several instances starting at once apply
// each version exactly once.
const MIGRATION_LOCK = 7_420_151;
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE gm_guests (
     id text PRIMARY KEY,
     secret_hash bytea NOT NULL,
     created_at bigint NOT NULL,
     expires_at bigint NOT NULL,
     merged_into text,
     merged_at bigint,
     merge_result text
   );
   CREATE INDEX gm_guests_expires_at ON gm_guests (expires_at);
   CREATE TABLE gm_attributes (
     owner text NOT NULL,
     name text NOT NULL,
     value text NOT NULL,
     size integer NOT NULL,
     updated_at bigint NOT NULL,
     PRIMARY KEY (owner, name)
   );
   CREATE TABLE gm_counters (
     name text PRIMARY KEY,
     value bigint NOT NULL
   );
   INSERT INTO gm_counters (name, value) VALUES ('purged_expired', 0), ('purged_merged', 0);`,
  // Guests deleted on request leave no row; counted so that the funnel still adds up.
  `INSERT INTO gm_counters (name, value) VALUES ('deleted', 0);`,
];

interface RawGuest {
  id: string;
  secret_hash: Buffer;
  created_at: string;
  expires_at: string;
  merged_into: string | null;
  merged_at: string | null;
  merge_result: string | null;
}

interface RawAttribute {
  name: string;
  value: string;
  updated_at: string;
}

function toGuest(row: RawGuest): GuestRow {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    mergedInto: row.merged_into,
    mergedAt: row.merged_at === null ? null : Number(row.merged_at),
    mergeResult: row.merge_result,
  };
}

function toAttribute(row: RawAttribute): StoredAttribute {
  return { name: row.name, value: row.value, updatedAt: Number(row.updated_at) };
}

// Named statements are prepared once per connection by `pg` and reused afterwards.
const q = {
  insertGuest:
    'INSERT INTO gm_guests (id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)',
  getGuest: 'SELECT * FROM gm_guests WHERE id = $1',
  lockGuest: 'SELECT * FROM gm_guests WHERE id = $1 FOR UPDATE',
  guestWithAttributes: `SELECT g.id, g.secret_hash, g.created_at, g.expires_at, g.merged_into,
       g.merged_at, a.name, a.value, a.updated_at AS attribute_updated_at
     FROM gm_guests g LEFT JOIN gm_attributes a ON a.owner = 'g:' || g.id
     WHERE g.id = $1 ORDER BY a.name`,
  extendGuest:
    'UPDATE gm_guests SET expires_at = $1 WHERE id = $2 AND merged_into IS NULL AND expires_at < $1',
  readAttributes:
    'SELECT name, value, updated_at FROM gm_attributes WHERE owner = $1 ORDER BY name',
  lockOwner: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
  profileSize:
    'SELECT COUNT(*)::int AS count, COALESCE(SUM(size), 0)::bigint AS bytes FROM gm_attributes WHERE owner = $1 AND name <> $2',
  upsertAttribute: `INSERT INTO gm_attributes (owner, name, value, size, updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (owner, name) DO UPDATE SET value = excluded.value, size = excluded.size, updated_at = excluded.updated_at`,
  deleteAttribute: 'DELETE FROM gm_attributes WHERE owner = $1 AND name = $2',
  deleteOwner: 'DELETE FROM gm_attributes WHERE owner = $1',
  markMerged:
    'UPDATE gm_guests SET merged_into = $1, merged_at = $2, merge_result = $3, expires_at = GREATEST(expires_at, $4) WHERE id = $5',
  purgeBatch: `WITH batch AS (
       SELECT id, merged_into IS NOT NULL AS merged FROM gm_guests
       WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED
     ), attributes AS (
       DELETE FROM gm_attributes a USING batch b WHERE a.owner = 'g:' || b.id
     ), guests AS (
       DELETE FROM gm_guests g USING batch b WHERE g.id = b.id RETURNING b.merged
     )
     SELECT COUNT(*)::int AS total, (COUNT(*) FILTER (WHERE merged))::int AS merged FROM guests`,
  deleteActiveGuest: 'DELETE FROM gm_guests WHERE id = $1 AND merged_into IS NULL',
  addCounter: 'UPDATE gm_counters SET value = value + $1 WHERE name = $2',
  counters: 'SELECT name, value FROM gm_counters',
  guestCounts: `SELECT COUNT(*)::bigint AS total,
       (COUNT(*) FILTER (WHERE merged_into IS NOT NULL))::bigint AS merged,
       (COUNT(*) FILTER (WHERE merged_into IS NULL AND expires_at > $1))::bigint AS active,
       (COUNT(*) FILTER (WHERE merged_into IS NULL AND expires_at <= $1))::bigint AS expired
     FROM gm_guests`,
} as const;

type QueryName = keyof typeof q;

/**
 * Opens (and migrates) a PostgreSQL store, for apps that run many instances against one database.
 *
 * @example
 * ```ts
 * import { openPostgresStorage } from '@guestmode/core/postgres';
 * const storage = await openPostgresStorage({ database: process.env.DATABASE_URL! });
 * ```
 */
export async function openPostgresStorage(options: PostgresStorageOptions): Promise<GuestStorage> {
  const storage = new PostgresStorage(options);
  await storage.migrate();
  return storage;
}

/**
 * Connection-level failures (server down, restarting, network) become `storage_unavailable`
 * (503: retry later). Anything else is a bug or a constraint and is rethrown as is.
 */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') {
      return true;
    }
    if (
      code === 'ECONNREFUSED' ||
      code === 'ECONNRESET' ||
      code === 'EPIPE' ||
      code === 'ETIMEDOUT'
    ) {
      return true;
    }
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
    error.message,
  );
}

function wrap(error: unknown): never {
  if (error instanceof GuestmodeError) throw error;
  if (isUnavailable(error)) {
    throw new GuestmodeError('storage_unavailable', 'The database is unavailable; retry later.', {
      cause: error,
    });
  }
  throw error;
}

class PostgresStorage implements GuestStorage {
  readonly dialect = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;

  constructor(options: PostgresStorageOptions) {
    if (typeof options.database === 'string') {
      if (!/^postgres(ql)?:\/\//.test(options.database)) {
        throw new TypeError('options.database must be a postgres:// URL or a pg.Pool');
      }
      this.#pool = new pg.Pool({
        connectionString: options.database,
        max: options.maxConnections ?? 10,
        connectionTimeoutMillis: 5_000,
      });
      this.#ownsPool = true;
    } else if (options.database && typeof options.database.connect === 'function') {
      this.#pool = options.database;
      this.#ownsPool = false;
    } else {
      throw new TypeError('options.database must be a postgres:// URL or a pg.Pool');
    }
    // An idle client losing its connection (server restart) must not crash the process.
    this.#pool.on('error', () => {});
  }

  #query<R extends pg.QueryResultRow>(
    runner: pg.Pool | pg.PoolClient,
    name: QueryName,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return runner.query<R>({ name: `gm_${name}`, text: q[name], values });
  }

  async #transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      wrap(error);
    }
    let broken = false;
    // pg-pool listens for 'error' only on idle clients; a connection that dies while checked
    // out (a database restart mid-transaction) would otherwise emit an unhandled 'error' and end
    // the process. The query in flight rejects on its own; here the client is only marked so
    // that it is discarded instead of returned to the pool.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      if (!broken) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
      }
      broken ||= isUnavailable(error);
      wrap(error);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async migrate(): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(
        'CREATE TABLE IF NOT EXISTS gm_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)',
      );
      const { rows } = await client.query<{ v: number | null }>(
        'SELECT MAX(version) AS v FROM gm_migrations',
      );
      for (let version = (rows[0]?.v ?? 0) + 1; version <= MIGRATIONS.length; version++) {
        await client.query(MIGRATIONS[version - 1]!);
        await client.query('INSERT INTO gm_migrations (version, applied_at) VALUES ($1, $2)', [
          version,
          Date.now(),
        ]);
      }
    });
  }

  async createGuest(guest: NewGuestRow, attributes: readonly StoredAttribute[]): Promise<void> {
    const values = [guest.id, guest.secretHash, guest.createdAt, guest.expiresAt];
    if (attributes.length === 0) {
      await this.#query(this.#pool, 'insertGuest', values).catch(wrap);
      return;
    }
    await this.#transaction(async (client) => {
      await this.#query(client, 'insertGuest', values);
      const owner = `g:${guest.id}`;
      for (const a of attributes) {
        await this.#query(client, 'upsertAttribute', [
          owner,
          a.name,
          a.value,
          Buffer.byteLength(a.value),
          a.updatedAt,
        ]);
      }
    });
  }

  async getGuest(id: string): Promise<GuestRow | null> {
    const { rows } = await this.#query<RawGuest>(this.#pool, 'getGuest', [id]).catch(wrap);
    return rows[0] ? toGuest(rows[0]) : null;
  }

  async getGuestWithAttributes(
    id: string,
  ): Promise<{ guest: Omit<GuestRow, 'mergeResult'>; attributes: StoredAttribute[] } | null> {
    const { rows } = await this.#query<
      Omit<RawGuest, 'merge_result'> & {
        name: string | null;
        value: string | null;
        attribute_updated_at: string | null;
      }
    >(this.#pool, 'guestWithAttributes', [id]).catch(wrap);
    const first = rows[0];
    if (!first) return null;
    const attributes: StoredAttribute[] = [];
    for (const row of rows) {
      if (row.name !== null && row.value !== null) {
        attributes.push({
          name: row.name,
          value: row.value,
          updatedAt: Number(row.attribute_updated_at),
        });
      }
    }
    return {
      guest: {
        id: first.id,
        secretHash: first.secret_hash,
        createdAt: Number(first.created_at),
        expiresAt: Number(first.expires_at),
        mergedInto: first.merged_into,
        mergedAt: first.merged_at === null ? null : Number(first.merged_at),
      },
      attributes,
    };
  }

  async extendGuest(id: string, expiresAt: number): Promise<void> {
    await this.#query(this.#pool, 'extendGuest', [expiresAt, id]).catch(wrap);
  }

  async readAttributes(owner: Principal): Promise<StoredAttribute[]> {
    const { rows } = await this.#query<RawAttribute>(this.#pool, 'readAttributes', [
      ownerKey(owner),
    ]).catch(wrap);
    return rows.map(toAttribute);
  }

  /** Serialises writers of one profile: a guest by its row lock, a user by an advisory lock. */
  async #lockOwner(
    client: pg.PoolClient,
    owner: Principal,
    now: number,
    credential?: GuestCredentialCheck,
  ): Promise<GuestTimes | null> {
    if (owner.kind === 'guest') {
      const { rows } = await this.#query<RawGuest>(client, 'lockGuest', [owner.id]);
      return guestWriteTimes(rows[0] ? toGuest(rows[0]) : null, now, credential);
    }
    await this.#query(client, 'lockOwner', [ownerKey(owner)]);
    return null;
  }

  async putAttribute(
    owner: Principal,
    attribute: StoredAttribute,
    limits: StorageLimits,
    now: number,
    credential?: GuestCredentialCheck,
  ): Promise<GuestTimes | null> {
    const key = ownerKey(owner);
    const size = Buffer.byteLength(attribute.value);
    return this.#transaction(async (client) => {
      const times = await this.#lockOwner(client, owner, now, credential);
      const { rows } = await this.#query<{ count: number; bytes: string }>(client, 'profileSize', [
        key,
        attribute.name,
      ]);
      const current = rows[0]!;
      assertWithinLimits(current.count + 1, Number(current.bytes) + size, limits);
      await this.#query(client, 'upsertAttribute', [
        key,
        attribute.name,
        attribute.value,
        size,
        attribute.updatedAt,
      ]);
      if (times?.extended) await this.#query(client, 'extendGuest', [times.expiresAt, owner.id]);
      return times;
    });
  }

  async deleteAttribute(owner: Principal, name: string, now: number): Promise<boolean> {
    return this.#transaction(async (client) => {
      await this.#lockOwner(client, owner, now);
      const result = await this.#query(client, 'deleteAttribute', [ownerKey(owner), name]);
      return (result.rowCount ?? 0) > 0;
    });
  }

  async merge(work: MergeWork): Promise<MergeOutcome> {
    class Rollback {
      constructor(readonly outcome: MergeOutcome) {}
    }
    try {
      return await this.#transaction(async (client) => {
        const { rows } = await this.#query<RawGuest>(client, 'lockGuest', [work.guestId]);
        const early = checkMergeable(rows[0] ? toGuest(rows[0]) : null, work);
        if (early) return early;
        const guestOwner = `g:${work.guestId}`;
        const userOwner = `u:${work.userId}`;
        // Two guests merging into one user at once must not both read the old user profile.
        await this.#query(client, 'lockOwner', [userOwner]);
        const [guestRows, userRows] = [
          await this.#query<RawAttribute>(client, 'readAttributes', [guestOwner]),
          await this.#query<RawAttribute>(client, 'readAttributes', [userOwner]),
        ];
        const plan = await work.plan(
          guestRows.rows.map(toAttribute),
          userRows.rows.map(toAttribute),
          {
            dialect: 'postgres',
            handle: client,
          },
        );
        if (work.dryRun) throw new Rollback({ status: 'previewed', result: plan.result });
        for (const a of plan.writes) {
          await this.#query(client, 'upsertAttribute', [
            userOwner,
            a.name,
            a.value,
            Buffer.byteLength(a.value),
            a.updatedAt,
          ]);
        }
        for (const name of plan.deletes) {
          await this.#query(client, 'deleteAttribute', [userOwner, name]);
        }
        await this.#query(client, 'deleteOwner', [guestOwner]);
        await this.#query(client, 'markMerged', [
          work.userId,
          work.now,
          plan.result,
          work.retainUntil,
          work.guestId,
        ]);
        return { status: 'merged', result: plan.result } as const;
      });
    } catch (error) {
      if (error instanceof Rollback) return error.outcome;
      throw error;
    }
  }

  async deleteGuest(id: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      const deleted = await this.#query(client, 'deleteActiveGuest', [id]);
      if ((deleted.rowCount ?? 0) === 0) return false;
      await this.#query(client, 'deleteOwner', [`g:${id}`]);
      await this.#query(client, 'addCounter', [1, 'deleted']);
      return true;
    });
  }

  async purgeExpired(now: number, batchSize: number): Promise<number> {
    return this.#transaction(async (client) => {
      const { rows } = await this.#query<{ total: number; merged: number }>(client, 'purgeBatch', [
        now,
        batchSize,
      ]);
      const { total, merged } = rows[0]!;
      if (total - merged > 0)
        await this.#query(client, 'addCounter', [total - merged, 'purged_expired']);
      if (merged > 0) await this.#query(client, 'addCounter', [merged, 'purged_merged']);
      return total;
    });
  }

  async stats(now: number): Promise<GuestStats> {
    // Counted by the database, off the event loop; a counter row updated by every guest
    // creation would serialise concurrent creations on its row lock.
    const [counts, counters] = await Promise.all([
      this.#query<{ total: string; merged: string; active: string; expired: string }>(
        this.#pool,
        'guestCounts',
        [now],
      ),
      this.#query<{ name: string; value: string }>(this.#pool, 'counters', []),
    ]).catch(wrap);
    const c = counts.rows[0]!;
    const byName = Object.fromEntries(counters.rows.map((r) => [r.name, Number(r.value)]));
    const purgedExpired = byName.purged_expired ?? 0;
    const purgedMerged = byName.purged_merged ?? 0;
    return {
      active: Number(c.active),
      merged: Number(c.merged) + purgedMerged,
      expired: purgedExpired + Number(c.expired),
      created: Number(c.total) + purgedExpired + purgedMerged + (byName.deleted ?? 0),
    };
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }
}
