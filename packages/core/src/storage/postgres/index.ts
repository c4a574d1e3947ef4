import pg from 'pg';
import { assertWithinLimits, checkMergeable, guestWriteTimes } from '../checks.js';
import { migratePostgres } from '../migrations.js';
import {
  type ExclusiveRun,
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
  type PurgePolicy,
  type StorageLimits,
  type StoredAttribute,
  type StoredUser,
} from '../types.js';
import { runExclusive } from './advisory-lock.js';
import { deleteUser, listGuests, readUser } from './data-rights.js';
import { isUnavailable, wrap } from './driver-errors.js';
import {
  MIGRATION_LOCK,
  POSTGRES_MIGRATIONS,
  type QueryName,
  q,
  type RawAttribute,
  type RawGuest,
  toAttribute,
  toGuest,
} from './schema.js';

export interface PostgresStorageOptions {
  /** A `postgres://` connection string, or your app's own `pg.Pool` (to share transactions). */
  readonly database: string | pg.Pool;
  /** Pool size when Guestmode opens the pool itself. Default 10. */
  readonly maxConnections?: number;
}

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

class PostgresStorage implements GuestStorage {
  /** The database does the work, off the event loop: large batches, no rests. */
  readonly purgePolicy: PurgePolicy = { batchSize: 1000, paced: false };
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

  /** Writes one attribute of the owner with key `owner` (`g:<id>` or `u:<id>`). */
  #upsert(
    client: pg.PoolClient,
    owner: string,
    a: StoredAttribute,
    size = Buffer.byteLength(a.value),
  ): Promise<pg.QueryResult> {
    return this.#query(client, 'upsertAttribute', [owner, a.name, a.value, size, a.updatedAt]);
  }

  /** Checks a client out of the pool; a pool that cannot connect is `storage_unavailable`. */
  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (error) {
      wrap(error);
    }
  }

  /**
   * Lends `fn` a client of its own. pg-pool listens for 'error' only on idle clients; a
   * connection that dies while checked out (a database restart mid-transaction) would otherwise
   * emit an unhandled 'error' and end the process. The query in flight rejects on its own; here
   * the client is only marked broken, so that it is discarded instead of returned to the pool.
   */
  async #withClient<T>(
    fn: (client: pg.PoolClient, markBroken: () => void) => Promise<T>,
  ): Promise<T> {
    const client = await this.#connect();
    let broken = false;
    const markBroken = () => {
      broken = true;
    };
    client.on('error', markBroken);
    try {
      return await fn(client, markBroken);
    } catch (error) {
      broken ||= isUnavailable(error);
      wrap(error);
    } finally {
      client.off('error', markBroken);
      client.release(broken);
    }
  }

  /**
   * Runs `fn` in a transaction. It commits unless `keep` says no for the value (a preview): then
   * it rolls back and still answers the value.
   */
  #transaction<T>(
    fn: (client: pg.PoolClient) => Promise<T>,
    keep?: (value: T) => boolean,
  ): Promise<T> {
    return this.#withClient(async (client, markBroken) => {
      await client.query('BEGIN');
      try {
        const result = await fn(client);
        await client.query(keep === undefined || keep(result) ? 'COMMIT' : 'ROLLBACK');
        return result;
      } catch (error) {
        // A ROLLBACK that fails leaves the connection in an unknown state: it is not reused.
        await client.query('ROLLBACK').catch(markBroken);
        throw error;
      }
    });
  }

  get sharedPool(): pg.Pool {
    return this.#pool;
  }

  runExclusive<T>(name: string, fn: () => Promise<T>): Promise<ExclusiveRun<T>> {
    return runExclusive(this.#pool, name, fn);
  }

  readUser(userId: string): Promise<StoredUser> {
    return readUser(this.#pool, userId);
  }

  listGuests(
    afterId: string,
    limit: number,
  ): Promise<Omit<GuestRow, 'secretHash' | 'mergeResult'>[]> {
    return listGuests(this.#pool, afterId, limit);
  }

  deleteUser(userId: string): Promise<{ attributes: number; merges: number }> {
    return deleteUser(this.#pool, userId);
  }

  migrate(): Promise<void> {
    return this.#withClient(async (client) => {
      await migratePostgres(client, POSTGRES_MIGRATIONS, { lockKey: MIGRATION_LOCK });
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
        await this.#upsert(client, owner, a);
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
      await this.#upsert(client, key, attribute, size);
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

  merge(work: MergeWork): Promise<MergeOutcome> {
    return this.#transaction(
      async (client): Promise<MergeOutcome> => {
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
        if (work.preview) return { status: 'previewed', result: plan.result };
        for (const a of plan.writes) {
          await this.#upsert(client, userOwner, a);
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
        return { status: 'merged', result: plan.result };
      },
      (outcome) => outcome.status === 'merged',
    );
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
