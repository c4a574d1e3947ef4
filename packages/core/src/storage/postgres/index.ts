import pg from 'pg';
import { checkBoolean, checkInteger, checkObject, optionError } from '../../options.js';
import { assertWithinLimits, checkMergeable, guestWriteTimes } from '../checks.js';
import { migratePostgres } from '../migrations.js';
import {
  type AttributeWrite,
  type EventOutbox,
  type ExclusiveRun,
  type GuestCredentialCheck,
  type GuestRow,
  type GuestStats,
  type GuestStorage,
  type GuestTimes,
  type LimiterPool,
  type MergeOutcome,
  type MergeWork,
  type NewEvent,
  type NewGuestRow,
  ownerKey,
  type Principal,
  type PurgePolicy,
  type StoredAttribute,
  type StoredUser,
} from '../types.js';
import { runExclusive } from './advisory-lock.js';
import { Connection, type Runner } from './connection.js';
import { deleteUser, listGuests, readUser } from './data-rights.js';
import { wrap } from './driver-errors.js';
import { type GroupWrite, PostgresGroupCommit } from './group-commit.js';
import { PostgresGroupMerge } from './group-merge.js';
import { GroupReads, type GuestWithAttributes } from './group-reads.js';
import { postgresOutbox, purgeWithEvents, writeEvents } from './outbox.js';
import {
  MIGRATION_LOCK,
  POSTGRES_MIGRATIONS,
  type QueryName,
  type RawAttribute,
  type RawGuest,
  toAttribute,
  toGuest,
} from './schema.js';

export interface PostgresStorageOptions {
  /**
   * A `postgres://` connection string, or your app's own `pg.Pool` (to share transactions). The
   * URL may carry `prepared_statements=false` (taken out before connecting), the same as the
   * option below.
   */
  readonly database: string | pg.Pool;
  /** Pool size when Guestmode opens the pool itself: at least 2, default 10. */
  readonly maxConnections?: number;
  /**
   * Named prepared statements (default `true`): each statement is parsed once per connection.
   * `false` sends every statement unprepared, for a connection pooler in transaction mode
   * (PgBouncer `pool_mode = transaction`), where consecutive transactions may run on different
   * server connections that never saw the preparation.
   */
  readonly preparedStatements?: boolean;
}

const OPTION_KEYS = ['database', 'maxConnections', 'preparedStatements'];
const URL_SWITCH = 'prepared_statements';
/**
 * The purge holds one connection for its lock while its batches run on others, so a pool of one
 * would wait for itself.
 */
const MIN_CONNECTIONS = 2;

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

/** Opens the pool the options describe; a `TypeError` names the option that is wrong. */
function openConnection(options: PostgresStorageOptions): { db: Connection; ownsPool: boolean } {
  checkObject(options, 'options', OPTION_KEYS);
  let prepared =
    options.preparedStatements === undefined
      ? true
      : checkBoolean(options.preparedStatements, 'options.preparedStatements');
  const { database } = options;
  if (typeof database === 'string') {
    if (!/^postgres(ql)?:\/\//.test(database)) {
      throw optionError('options.database', 'must be a postgres:// URL or a pg.Pool');
    }
    const url = new URL(database);
    const inUrl = url.searchParams.get(URL_SWITCH);
    if (inUrl !== null) {
      if (inUrl !== 'true' && inUrl !== 'false') {
        throw optionError(`options.database (${URL_SWITCH})`, 'must be true or false');
      }
      prepared &&= inUrl === 'true';
      url.searchParams.delete(URL_SWITCH);
    }
    const max =
      options.maxConnections === undefined
        ? 10
        : checkInteger(options.maxConnections, 'options.maxConnections', { min: MIN_CONNECTIONS });
    const pool = new pg.Pool({
      connectionString: url.href,
      max,
      connectionTimeoutMillis: 5_000,
    });
    return { db: new Connection(pool, max, prepared), ownsPool: true };
  }
  if (database && typeof (database as { connect?: unknown }).connect === 'function') {
    const max = (database as { options?: { max?: unknown } }).options?.max;
    if (typeof max === 'number' && max < MIN_CONNECTIONS) {
      throw optionError('options.database', `a pg.Pool needs max ${MIN_CONNECTIONS} or more`);
    }
    const size = typeof max === 'number' ? max : 10;
    return { db: new Connection(database, size, prepared), ownsPool: false };
  }
  throw optionError('options.database', 'must be a postgres:// URL or a pg.Pool');
}

class PostgresStorage implements GuestStorage {
  /** The database does the work, off the event loop: large batches, no rests. */
  readonly purgePolicy: PurgePolicy = { batchSize: 1000, paced: false };
  readonly #db: Connection;
  readonly #ownsPool: boolean;
  readonly #writes: PostgresGroupCommit;
  readonly #reads: GroupReads;
  readonly #merges: PostgresGroupMerge;
  readonly outbox: EventOutbox;

  constructor(options: PostgresStorageOptions) {
    const { db, ownsPool } = openConnection(options);
    this.#db = db;
    this.outbox = postgresOutbox(db.pool);
    this.#ownsPool = ownsPool;
    // A connection lost to a server restart must not crash the process, wherever its client is:
    // idle (the pool's 'error'), or checked out with no statement in flight, where pg emits
    // 'error' on the client itself and a borrower may not have its own listener attached yet.
    // The next statement on that client still fails as storage_unavailable and is discarded.
    db.pool.on('error', () => {});
    db.pool.on('connect', (client) => client.on('error', () => {}));
    // Groups of writes and of reads take at most this many clients each, leaving the rest of
    // the pool to merges, purges and the other single operations.
    const groups = Math.max(1, Math.floor(db.size * 0.4));
    this.#writes = new PostgresGroupCommit(db, groups, (write) => this.#writeAlone(write));
    this.#reads = new GroupReads(db, groups);
    this.#merges = new PostgresGroupMerge(db, groups, (work) => this.#mergeAlone(work));
  }

  #query<R extends pg.QueryResultRow>(
    runner: Runner,
    name: QueryName,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.#db.query<R>(runner, name, values);
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

  #transaction<T>(
    fn: (client: pg.PoolClient) => Promise<T>,
    keep?: (value: T) => boolean,
  ): Promise<T> {
    return this.#db.transaction(fn, keep);
  }

  get sharedPool(): LimiterPool {
    return this.#db.shared;
  }

  runExclusive<T>(name: string, fn: () => Promise<T>): Promise<ExclusiveRun<T>> {
    return runExclusive(this.#db, name, fn);
  }

  readUser(userId: string): Promise<StoredUser> {
    return readUser(this.#db.pool, userId);
  }

  listGuests(
    afterId: string,
    limit: number,
  ): Promise<Omit<GuestRow, 'secretHash' | 'mergeResult'>[]> {
    return listGuests(this.#db.pool, afterId, limit);
  }

  deleteUser(userId: string, event?: NewEvent): Promise<{ attributes: number; merges: number }> {
    return deleteUser(this.#db, userId, event);
  }

  migrate(): Promise<void> {
    return this.#db.withClient(async (client) => {
      await migratePostgres(client, POSTGRES_MIGRATIONS, { lockKey: MIGRATION_LOCK });
    });
  }

  createGuest(
    guest: NewGuestRow,
    attributes: readonly StoredAttribute[],
    event?: NewEvent,
  ): Promise<void> {
    if (event) {
      // Only when `guest.created` is asked for: its own transaction, outside group commit.
      return this.#transaction(async (client) => {
        await this.#insertGuest(client, guest, attributes);
        await writeEvents(client, [event]);
      });
    }
    return this.#writes.add({ kind: 'create', guest, attributes }).then(() => undefined);
  }

  /** A write of group commit in a transaction of its own, after its group failed as a whole. */
  #writeAlone(write: GroupWrite): Promise<GuestTimes | null> {
    if (write.kind === 'put') {
      const { guestId, attribute, limits, now, credential } = write;
      return this.#putAlone({
        owner: { kind: 'guest', id: guestId },
        attribute,
        limits,
        now,
        credential,
      });
    }
    return this.#transaction(async (client) => {
      await this.#insertGuest(client, write.guest, write.attributes);
      return null;
    });
  }

  async #insertGuest(
    client: pg.PoolClient,
    guest: NewGuestRow,
    attributes: readonly StoredAttribute[],
  ): Promise<void> {
    await this.#query(client, 'insertGuest', [
      guest.id,
      guest.secretHash,
      guest.createdAt,
      guest.expiresAt,
    ]);
    const owner = `g:${guest.id}`;
    for (const a of attributes) await this.#upsert(client, owner, a);
    await this.#query(client, 'addCounter', [1, 'created']);
  }

  async getGuest(id: string): Promise<GuestRow | null> {
    const { rows } = await this.#query<RawGuest>(this.#db.pool, 'getGuest', [id]).catch(wrap);
    return rows[0] ? toGuest(rows[0]) : null;
  }

  getGuestWithAttributes(id: string): Promise<GuestWithAttributes | null> {
    return this.#reads.get(id);
  }

  async extendGuest(id: string, expiresAt: number): Promise<void> {
    await this.#query(this.#db.pool, 'extendGuest', [expiresAt, id]).catch(wrap);
  }

  async readAttributes(owner: Principal): Promise<StoredAttribute[]> {
    const { rows } = await this.#query<RawAttribute>(this.#db.pool, 'readAttributes', [
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

  putAttribute(write: AttributeWrite): Promise<GuestTimes | null> {
    const { owner, ...rest } = write;
    if (owner.kind === 'guest') {
      return this.#writes.add({ kind: 'put', guestId: owner.id, ...rest });
    }
    return this.#putAlone(write);
  }

  #putAlone({
    owner,
    attribute,
    limits,
    now,
    credential,
  }: AttributeWrite): Promise<GuestTimes | null> {
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

  /** Merges share transactions in groups; a preview, which commits nothing, runs alone. */
  merge(work: MergeWork): Promise<MergeOutcome> {
    return work.preview ? this.#mergeAlone(work) : this.#merges.add(work);
  }

  /**
   * BEGIN, lock, read, write, COMMIT: five round trips whatever the plan holds (see `lockMerge`,
   * `readOwners` and `finishMerge` for why each statement stands where it does).
   */
  #mergeAlone(work: MergeWork): Promise<MergeOutcome> {
    const guestOwner = `g:${work.guestId}`;
    const userOwner = `u:${work.userId}`;
    return this.#transaction(
      async (client): Promise<MergeOutcome> => {
        const { rows } = await this.#query<RawGuest>(client, 'lockMerge', [
          work.guestId,
          userOwner,
        ]);
        const early = checkMergeable(rows[0] ? toGuest(rows[0]) : null, work);
        if (early) return early;
        const profiles = await this.#query<RawAttribute & { owner: string }>(client, 'readOwners', [
          [guestOwner, userOwner],
        ]);
        const of = (owner: string) =>
          profiles.rows.filter((r) => r.owner === owner).map(toAttribute);
        const plan = await work.plan(of(guestOwner), of(userOwner), {
          dialect: 'postgres',
          handle: client,
        });
        if (work.preview) return { status: 'previewed', result: plan.result };
        const { writes } = plan;
        await this.#query(client, 'finishMerge', [
          userOwner,
          writes.map((a) => a.name),
          writes.map((a) => a.value),
          writes.map((a) => Buffer.byteLength(a.value)),
          writes.map((a) => a.updatedAt),
          plan.deletes,
          work.guestId,
          work.userId,
          work.now,
          plan.result,
          work.retainUntil,
        ]);
        // The guest is marked merged and counted; whatever else must commit with this merge,
        // and only with it, runs here, on `client`, before the commit.
        if (plan.event) await writeEvents(client, [plan.event]);
        return { status: 'merged', result: plan.result };
      },
      (outcome) => outcome.status === 'merged',
    );
  }

  async deleteGuest(id: string, event?: NewEvent): Promise<boolean> {
    return this.#transaction(async (client) => {
      const deleted = await this.#query(client, 'deleteActiveGuest', [id]);
      if ((deleted.rowCount ?? 0) === 0) return false;
      await this.#query(client, 'deleteOwner', [`g:${id}`]);
      await this.#query(client, 'addCounter', [1, 'deleted']);
      if (event) await writeEvents(client, [event]);
      return true;
    });
  }

  async purgeExpired(
    now: number,
    batchSize: number,
    expired?: (guestId: string) => NewEvent,
  ): Promise<number> {
    return this.#transaction(async (client) => {
      // Until autovacuum first analyzes the tables, the planner joins a batch to every attribute
      // row (a sort of the whole table per batch); a nested loop of key probes is right at any
      // size, since a batch is at most batchSize guests. SET LOCAL: only this transaction.
      await this.#query(client, 'purgeJoins', []);
      const { total, merged } = expired
        ? await purgeWithEvents(client, now, batchSize, expired)
        : (
            await this.#query<{ total: number; merged: number }>(client, 'purgeBatch', [
              now,
              batchSize,
            ])
          ).rows[0]!;
      if (total - merged > 0)
        await this.#query(client, 'addCounter', [total - merged, 'purged_expired']);
      if (merged > 0) await this.#query(client, 'addCounter', [merged, 'purged_merged']);
      return total;
    });
  }

  async stats(now: number): Promise<GuestStats> {
    // The funnel's counters move with the rows (summed over their shards); only the guests
    // expired but not yet purged are counted, from the expiry index.
    const [counters, expired] = await Promise.all([
      this.#query<{ name: string; value: string }>(this.#db.pool, 'counters', []),
      this.#query<{ n: string }>(this.#db.pool, 'expiredUnpurged', [now]),
    ]).catch(wrap);
    const byName = Object.fromEntries(counters.rows.map((r) => [r.name, Number(r.value)]));
    const created = byName.created ?? 0;
    const merged = byName.merged ?? 0;
    const expiredTotal = (byName.purged_expired ?? 0) + Number(expired.rows[0]!.n);
    return {
      active: created - merged - expiredTotal - (byName.deleted ?? 0),
      merged,
      expired: expiredTotal,
      created,
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.#writes.idle(), this.#reads.idle(), this.#merges.idle()]);
    if (this.#ownsPool) await this.#db.pool.end();
  }
}
