import { resolve as resolvePath } from 'node:path';
import type Database from 'better-sqlite3';
import { GuestmodeError } from '../errors.js';
import { loadSqliteDriver } from '../sqlite-driver.js';
import { BackgroundCheckpointer } from './checkpointer.js';
import { assertWithinLimits, checkMergeable, guestWriteTimes } from './checks.js';
import { Gate, TurnBatch } from './gate.js';
import { GuestCache, type GuestWithAttributes } from './guest-cache.js';
import {
  type GuestCredentialCheck,
  type GuestRow,
  type GuestStats,
  type GuestStorage,
  type GuestTimes,
  type MergeOutcome,
  type MergePlan,
  type MergeWork,
  type NewGuestRow,
  ownerKey,
  type Principal,
  type StorageLimits,
  type StoredAttribute,
} from './types.js';

export interface SqliteStorageOptions {
  /**
   * A file path, `:memory:`, or an open `better-sqlite3` Database. Pass your app's own Database
   * to have merge rules move your tables in the same transaction as the guest.
   */
  readonly database: string | Database.Database;
  /**
   * `normal` (default): WAL with synchronous=NORMAL: durable across process crashes, a power loss
   * may drop the last commits. `full`: every commit is synced to disk.
   */
  readonly synchronous?: 'normal' | 'full';
  /**
   * Memory for the read cache of guests, in bytes (default 8 MiB), or `false` for none.
   *
   * A guest read (the credential check, `GET /v1/profile`) is answered from memory when the
   * guest has not changed since it was last read. The cache stays exact: the storage forgets a
   * guest in the same step as it writes it, and before each group of reads (those of one turn of
   * the event loop) it asks SQLite whether anything else wrote to the file (`PRAGMA
   * data_version`: another process, another connection) or through this connection outside the
   * storage (`total_changes()`); if so, the whole cache is dropped. The secret is still hashed
   * and compared on every request.
   */
  readonly readCache?: number | false;
  /**
   * Make WAL checkpoints on a worker thread with its own connection (default `true` when
   * `database` is a path). Otherwise SQLite makes them inside the commit that crosses its
   * threshold, on the event loop; with an app's own `Database`, its settings are left alone.
   */
  readonly backgroundCheckpoints?: boolean;
}

/** How often the background checkpointer copies the WAL back into the database. */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * With background checkpoints, the main connection still checkpoints by itself past this many
 * WAL pages (~40 MB): a bound on the WAL should the worker fall behind or die.
 */
const SAFETY_CHECKPOINT_PAGES = 10_000;

/** Default memory of the read cache: a few thousand typical guests. */
const DEFAULT_READ_CACHE_BYTES = 8 * 2 ** 20;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE gm_guests (
     id TEXT PRIMARY KEY,
     secret_hash BLOB NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     merged_into TEXT,
     merged_at INTEGER,
     merge_result TEXT
   ) WITHOUT ROWID;
   CREATE INDEX gm_guests_expires_at ON gm_guests (expires_at);
   CREATE TABLE gm_attributes (
     owner TEXT NOT NULL,
     name TEXT NOT NULL,
     value TEXT NOT NULL,
     size INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (owner, name)
   ) WITHOUT ROWID;
   CREATE TABLE gm_counters (
     name TEXT PRIMARY KEY,
     value INTEGER NOT NULL
   ) WITHOUT ROWID;
   INSERT INTO gm_counters (name, value) VALUES ('purged_expired', 0), ('purged_merged', 0);`,
  // Funnel totals kept as counters in the same transactions as the rows they count, so that
  // stats() reads a few rows instead of counting a million on the event loop (311 ms at 1M
  // guests in the bench). Seeded from the rows already there.
  `INSERT INTO gm_counters (name, value)
     SELECT 'created', (SELECT COUNT(*) FROM gm_guests)
       + (SELECT COALESCE(SUM(value), 0) FROM gm_counters WHERE name IN ('purged_expired', 'purged_merged'));
   INSERT INTO gm_counters (name, value)
     SELECT 'merged', (SELECT COUNT(*) FROM gm_guests WHERE merged_into IS NOT NULL)
       + (SELECT value FROM gm_counters WHERE name = 'purged_merged');
   INSERT INTO gm_counters (name, value) VALUES ('deleted', 0);`,
  // stats() counts the expired, unmerged guests: with merged_into in the index that count never
  // leaves it (406 ms -> ~66 ms for a million unpurged guests in the bench). The purge's range
  // scan on expires_at uses the same index, so the old one goes.
  `CREATE INDEX gm_guests_expiry_state ON gm_guests (expires_at, merged_into);
   DROP INDEX gm_guests_expires_at;`,
];

/** Thrown inside a preview's savepoint so that it rolls back, carrying the preview's outcome. */
class PreviewRollback {
  constructor(readonly outcome: MergeOutcome) {}
}

interface QueuedWrite {
  readonly fn: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface QueuedRead {
  readonly id: string;
  readonly resolve: (value: GuestWithAttributes | null) => void;
  readonly reject: (error: unknown) => void;
}

interface RawGuest {
  id: string;
  secret_hash: Buffer;
  created_at: number;
  expires_at: number;
  merged_into: string | null;
  merged_at: number | null;
  merge_result: string | null;
}

interface GuestWithAttributeRow extends Omit<RawGuest, 'merge_result'> {
  name: string | null;
  value: string | null;
  updated_at: number | null;
}

interface RawAttribute {
  name: string;
  value: string;
  updated_at: number;
}

/**
 * Another process holding the write lock past `busy_timeout`, or a full disk, is not the
 * caller's fault: it becomes `storage_unavailable` (503, retry later). Anything else is a bug and
 * is rethrown as it is.
 */
function unavailable(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY)/.test(code)) {
    return new GuestmodeError(
      'storage_unavailable',
      'The database is busy or unavailable; retry later.',
      {
        cause: error,
      },
    );
  }
  return error;
}

function toGuest(row: RawGuest): GuestRow {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    mergedInto: row.merged_into,
    mergedAt: row.merged_at,
    mergeResult: row.merge_result,
  };
}

function toAttribute(row: RawAttribute): StoredAttribute {
  return { name: row.name, value: row.value, updatedAt: row.updated_at };
}

/**
 * Opens (and migrates) a SQLite store: the embedded default.
 *
 * @example
 * ```ts
 * import { createGuestmode } from '@guestmode/core';
 * import { openSqliteStorage } from '@guestmode/core/sqlite';
 *
 * const guestmode = createGuestmode({ storage: await openSqliteStorage({ database: './data/guestmode.db' }) });
 * ```
 */
export async function openSqliteStorage(options: SqliteStorageOptions): Promise<GuestStorage> {
  const storage = new SqliteStorage(options);
  try {
    await storage.migrate();
  } catch (error) {
    // A file that cannot be migrated (not a database, read-only) keeps no thread or handle open.
    await storage.close().catch(() => undefined);
    throw error;
  }
  return storage;
}

class SqliteStorage implements GuestStorage {
  readonly dialect = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #ownsDb: boolean;
  readonly #gate = new Gate();
  #statements: ReturnType<SqliteStorage['prepare']> | undefined;
  /** Runs a closure atomically: its own transaction, or a savepoint inside an open one. */
  readonly #atomic: Database.Transaction<(fn: () => unknown) => unknown>;
  readonly #writes = new TurnBatch<QueuedWrite>((batch) => {
    if (this.#gate.idle) this.#commit(batch);
    else void this.#gate.run(() => this.#commit(batch));
  });
  readonly #cache: GuestCache | undefined;
  readonly #checkpointer: BackgroundCheckpointer | null = null;
  /** What SQLite said when the cache was last known to be exact (see {@link #syncCache}). */
  #seenDataVersion = -1;
  #seenChanges = -1;
  readonly #reads = new TurnBatch<QueuedRead>((batch) => {
    if (this.#gate.idle) this.#readGroup(batch);
    else void this.#gate.run(() => this.#readGroup(batch));
  });
  /** Guests created by the operations of the open group commit (see {@link #countCreated}). */
  #createdInBatch = 0;

  constructor(options: SqliteStorageOptions) {
    // Every option is checked before the file is opened or the thread started, so that a bad
    // option leaves nothing open behind it.
    const synchronous = options.synchronous ?? 'normal';
    if (synchronous !== 'normal' && synchronous !== 'full') {
      throw new TypeError('options.synchronous must be "normal" or "full"');
    }
    const cacheBytes = options.readCache ?? DEFAULT_READ_CACHE_BYTES;
    if (cacheBytes !== false && (!Number.isSafeInteger(cacheBytes) || cacheBytes <= 0)) {
      throw new TypeError('options.readCache must be a positive number of bytes or false');
    }
    const ownsDb = typeof options.database === 'string';
    const background = options.backgroundCheckpoints ?? ownsDb;
    if (typeof background !== 'boolean') {
      throw new TypeError('options.backgroundCheckpoints must be a boolean');
    }
    if (typeof options.database === 'string') {
      this.#db = new (loadSqliteDriver().Database)(options.database);
    } else if (options.database && typeof options.database.prepare === 'function') {
      this.#db = options.database;
    } else {
      throw new TypeError('options.database must be a path or a better-sqlite3 Database');
    }
    this.#ownsDb = ownsDb;
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    // Several processes may share the file (CLI purge beside the server): wait, don't fail.
    this.#db.pragma('busy_timeout = 5000');
    this.#atomic = this.#db.transaction((fn: () => unknown) => fn());
    if (cacheBytes !== false) this.#cache = new GuestCache(cacheBytes);
    const file = this.#db.name;
    if (background && !this.#db.memory && file !== '') {
      const inline = () => {
        if (this.#db.open) this.#db.pragma('wal_autocheckpoint = 1000');
      };
      this.#db.pragma(`wal_autocheckpoint = ${SAFETY_CHECKPOINT_PAGES}`);
      this.#checkpointer = BackgroundCheckpointer.start(
        resolvePath(file),
        CHECKPOINT_INTERVAL_MS,
        inline,
      );
      if (this.#checkpointer === null) inline();
    }
  }

  /**
   * Makes the cache exact before it is used: drops everything when the file was written by
   * another connection (`data_version` moved) or when this connection changed rows outside the
   * storage's own writes (`total_changes()` moved past what the storage last accounted for).
   * Costs one read lock (two fcntl calls), still far less than the guest's query under load.
   */
  #syncCache(cache: GuestCache): void {
    const s = this.#s;
    const version = s.dataVersion.get() as number;
    const changes = s.totalChanges.get() as number;
    if (version !== this.#seenDataVersion || changes !== this.#seenChanges) {
      cache.clear();
      this.#seenDataVersion = version;
      this.#seenChanges = changes;
    }
  }

  /**
   * Brackets every transaction the storage runs: before it, anything written behind the
   * storage's back is detected (so it cannot be absorbed into the new baseline); after it, the
   * storage's own changes, whose guests the writes forgot one by one, become the baseline.
   */
  #beforeWrite(): void {
    const cache = this.#cache;
    if (cache !== undefined && cache.size > 0) this.#syncCache(cache);
  }

  #afterWrite(): void {
    if (this.#cache !== undefined) this.#seenChanges = this.#s.totalChanges.get() as number;
  }

  /** A write forgets the guest it touches, inside its transaction, before anyone can read. */
  #forget(guestId: string): void {
    this.#cache?.delete(guestId);
  }

  get #s() {
    if (!this.#statements) throw new TypeError('SQLite storage used before migrate()');
    return this.#statements;
  }

  async migrate(): Promise<void> {
    const db = this.#db;
    db.exec(
      'CREATE TABLE IF NOT EXISTS gm_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    db.transaction(() => {
      const row = db.prepare('SELECT MAX(version) AS v FROM gm_migrations').get() as {
        v: number | null;
      };
      for (let version = (row.v ?? 0) + 1; version <= MIGRATIONS.length; version++) {
        db.exec(MIGRATIONS[version - 1]!);
        db.prepare('INSERT INTO gm_migrations (version, applied_at) VALUES (?, ?)').run(
          version,
          Date.now(),
        );
      }
    }).immediate();
    this.#statements = this.prepare();
    this.#cache?.clear();
  }

  private prepare() {
    const db = this.#db;
    return {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      beginRead: db.prepare('BEGIN'),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      totalChanges: db.prepare('SELECT total_changes()').pluck(),
      insertGuest: db.prepare(
        'INSERT INTO gm_guests (id, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?)',
      ),
      getGuest: db.prepare('SELECT * FROM gm_guests WHERE id = ?'),
      guestWithAttributes: db.prepare(
        `SELECT g.id, g.secret_hash, g.created_at, g.expires_at, g.merged_into, g.merged_at,
                a.name, a.value, a.updated_at
         FROM gm_guests g LEFT JOIN gm_attributes a ON a.owner = 'g:' || g.id
         WHERE g.id = ? ORDER BY a.name`,
      ),
      extendGuest: db.prepare(
        'UPDATE gm_guests SET expires_at = ? WHERE id = ? AND merged_into IS NULL AND expires_at < ?',
      ),
      readAttributes: db.prepare(
        'SELECT name, value, updated_at FROM gm_attributes WHERE owner = ? ORDER BY name',
      ),
      profileSize: db.prepare(
        'SELECT COUNT(*) AS count, COALESCE(SUM(size), 0) AS bytes FROM gm_attributes WHERE owner = ? AND name <> ?',
      ),
      upsertAttribute: db.prepare(
        `INSERT INTO gm_attributes (owner, name, value, size, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (owner, name) DO UPDATE SET value = excluded.value, size = excluded.size, updated_at = excluded.updated_at`,
      ),
      deleteAttribute: db.prepare('DELETE FROM gm_attributes WHERE owner = ? AND name = ?'),
      deleteOwner: db.prepare('DELETE FROM gm_attributes WHERE owner = ?'),
      markMerged: db.prepare(
        'UPDATE gm_guests SET merged_into = ?, merged_at = ?, merge_result = ?, expires_at = MAX(expires_at, ?) WHERE id = ?',
      ),
      expiredBatch: db.prepare(
        'SELECT id, merged_into IS NOT NULL AS merged FROM gm_guests WHERE expires_at <= ? LIMIT ?',
      ),
      deleteGuest: db.prepare('DELETE FROM gm_guests WHERE id = ?'),
      deleteActiveGuest: db.prepare('DELETE FROM gm_guests WHERE id = ? AND merged_into IS NULL'),
      addCounter: db.prepare('UPDATE gm_counters SET value = value + ? WHERE name = ?'),
      counters: db.prepare('SELECT name, value FROM gm_counters'),
      bumpCounter: db.prepare('UPDATE gm_counters SET value = value + 1 WHERE name = ?'),
      // An index range over the expired rows only: few, as long as the purge runs.
      expiredUnpurged: db.prepare(
        'SELECT COUNT(*) AS n FROM gm_guests WHERE expires_at <= ? AND merged_into IS NULL',
      ),
    };
  }

  /** Runs a synchronous operation at once, or behind an async transaction that holds the gate. */
  #run<T>(fn: () => T): Promise<T> {
    if (this.#gate.idle) {
      try {
        return Promise.resolve(fn());
      } catch (error) {
        return Promise.reject(unavailable(error));
      }
    }
    return this.#gate.run(fn).catch((error: unknown) => Promise.reject(unavailable(error)));
  }

  /**
   * Group commit. A commit costs tens of microseconds on a real disk while a statement inside a
   * transaction costs a few, so the writes that arrive during one turn of the event loop run in
   * one transaction, each inside its own savepoint: a write that fails (a limit, a merged guest)
   * rolls back alone and rejects alone. Every promise settles only after COMMIT, so an
   * acknowledged write is exactly as durable as with one transaction per write.
   */
  #write<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#writes.add({ fn, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  #commit(batch: QueuedWrite[]): void {
    this.#beforeWrite();
    try {
      this.#commitBatch(batch);
    } finally {
      this.#afterWrite();
    }
  }

  #commitBatch(batch: QueuedWrite[]): void {
    if (batch.length === 1) {
      const op = batch[0]!;
      try {
        op.resolve(
          this.#atomic.immediate(() => {
            const value = op.fn();
            this.#countCreated();
            return value;
          }),
        );
      } catch (error) {
        this.#createdInBatch = 0;
        op.reject(unavailable(error));
      }
      return;
    }
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.#s.begin.run();
      for (const op of batch) {
        try {
          outcomes.push({ ok: true, value: this.#atomic(op.fn) });
        } catch (error) {
          outcomes.push({ ok: false, value: error });
        }
      }
      this.#countCreated();
      this.#s.commit.run();
    } catch (error) {
      // BEGIN or COMMIT failed (locked past busy_timeout, disk full): nothing was written.
      this.#createdInBatch = 0;
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      for (const op of batch) op.reject(unavailable(error));
      return;
    }
    batch.forEach((op, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) op.resolve(outcome.value);
      else op.reject(unavailable(outcome.value));
    });
  }

  /**
   * The `created` counter moves once per group commit, by the number of guests its operations
   * created, instead of one UPDATE of the same row per guest.
   */
  #countCreated(): void {
    if (this.#createdInBatch > 0) {
      this.#s.addCounter.run(this.#createdInBatch, 'created');
      this.#createdInBatch = 0;
    }
  }

  createGuest(guest: NewGuestRow, attributes: readonly StoredAttribute[]): Promise<void> {
    return this.#write(() => {
      const s = this.#s;
      s.insertGuest.run(guest.id, guest.secretHash, guest.createdAt, guest.expiresAt);
      const owner = `g:${guest.id}`;
      for (const a of attributes) {
        s.upsertAttribute.run(owner, a.name, a.value, Buffer.byteLength(a.value), a.updatedAt);
      }
      // Last: a create that throws half-way is rolled back to its savepoint and never counted.
      this.#createdInBatch++;
    });
  }

  getGuest(id: string): Promise<GuestRow | null> {
    return this.#run(() => {
      const row = this.#s.getGuest.get(id) as RawGuest | undefined;
      return row ? toGuest(row) : null;
    });
  }

  getGuestWithAttributes(id: string): Promise<GuestWithAttributes | null> {
    if (this.#cache === undefined) return this.#run(() => this.#queryGuest(id));
    return new Promise((resolve, reject) => {
      this.#reads.add({ id, resolve, reject });
    });
  }

  /**
   * Group reads, the read side of the group commit: the guest reads that arrive during one turn
   * of the event loop share one read transaction and one coherence check of the cache. Each
   * request was received before the check, so each answer is at least as new as the request.
   */
  #readGroup(batch: QueuedRead[]): void {
    const cache = this.#cache!;
    const shared = batch.length > 1;
    try {
      if (shared) this.#s.beginRead.run();
      this.#syncCache(cache);
      for (const read of batch) {
        try {
          read.resolve(cache.get(read.id) ?? this.#queryGuest(read.id, cache));
        } catch (error) {
          read.reject(unavailable(error));
        }
      }
    } catch (error) {
      for (const read of batch) read.reject(unavailable(error));
    } finally {
      if (shared && this.#db.inTransaction) this.#s.commit.run();
    }
  }

  #queryGuest(id: string, cache?: GuestCache): GuestWithAttributes | null {
    const rows = this.#s.guestWithAttributes.all(id) as GuestWithAttributeRow[];
    const first = rows[0];
    if (!first) return null;
    const attributes: StoredAttribute[] = [];
    for (const row of rows) {
      if (row.name !== null) {
        attributes.push({ name: row.name, value: row.value!, updatedAt: row.updated_at! });
      }
    }
    const found: GuestWithAttributes = {
      guest: {
        id: first.id,
        secretHash: first.secret_hash,
        createdAt: first.created_at,
        expiresAt: first.expires_at,
        mergedInto: first.merged_into,
        mergedAt: first.merged_at,
      },
      attributes,
    };
    return cache === undefined ? found : cache.set(found);
  }

  extendGuest(id: string, expiresAt: number): Promise<void> {
    return this.#write(() => {
      this.#forget(id);
      this.#s.extendGuest.run(expiresAt, id, expiresAt);
    });
  }

  readAttributes(owner: Principal): Promise<StoredAttribute[]> {
    return this.#run(() =>
      (this.#s.readAttributes.all(ownerKey(owner)) as RawAttribute[]).map(toAttribute),
    );
  }

  putAttribute(
    owner: Principal,
    attribute: StoredAttribute,
    limits: StorageLimits,
    now: number,
    credential?: GuestCredentialCheck,
  ): Promise<GuestTimes | null> {
    const key = ownerKey(owner);
    const size = Buffer.byteLength(attribute.value);
    return this.#write(() => {
      const s = this.#s;
      if (owner.kind === 'guest') this.#forget(owner.id);
      const times =
        owner.kind === 'guest' ? this.#assertGuestWritable(owner.id, now, credential) : null;
      const current = s.profileSize.get(key, attribute.name) as { count: number; bytes: number };
      assertWithinLimits(current.count + 1, current.bytes + size, limits);
      s.upsertAttribute.run(key, attribute.name, attribute.value, size, attribute.updatedAt);
      if (times?.extended) s.extendGuest.run(times.expiresAt, owner.id, times.expiresAt);
      return times;
    });
  }

  deleteAttribute(owner: Principal, name: string, now: number): Promise<boolean> {
    return this.#write(() => {
      if (owner.kind === 'guest') {
        this.#forget(owner.id);
        this.#assertGuestWritable(owner.id, now);
      }
      return this.#s.deleteAttribute.run(ownerKey(owner), name).changes > 0;
    });
  }

  #assertGuestWritable(id: string, now: number, credential?: GuestCredentialCheck): GuestTimes {
    const row = this.#s.getGuest.get(id) as RawGuest | undefined;
    return guestWriteTimes(row ? toGuest(row) : null, now, credential);
  }

  merge(work: MergeWork): Promise<MergeOutcome> {
    if (work.synchronous) {
      // Built-in rules only: the merge is one more operation of the group commit, in its own
      // savepoint. A preview rolls its savepoint back by throwing its outcome.
      return this.#write(() => {
        this.#forget(work.guestId);
        const read = this.#mergeRead(work);
        if ('status' in read) return read;
        const plan = work.plan(read.guest, read.user, { dialect: 'sqlite', handle: this.#db });
        if (plan instanceof Promise) {
          throw new TypeError('A synchronous merge plan returned a promise');
        }
        if (work.dryRun) throw new PreviewRollback({ status: 'previewed', result: plan.result });
        this.#mergeWrite(work, plan);
        return { status: 'merged', result: plan.result } as const;
      }).catch((error: unknown) => {
        if (error instanceof PreviewRollback) return error.outcome;
        throw error;
      });
    }
    // App rules may await and use the connection: the merge holds the gate (every other
    // operation waits) inside a transaction of its own.
    return this.#gate.run(async () => {
      const db = this.#db;
      db.exec('BEGIN IMMEDIATE');
      try {
        const read = this.#mergeRead(work);
        if ('status' in read) {
          db.exec('ROLLBACK');
          return read;
        }
        const plan = await work.plan(read.guest, read.user, { dialect: 'sqlite', handle: db });
        if (work.dryRun) {
          db.exec('ROLLBACK');
          return { status: 'previewed', result: plan.result };
        }
        this.#mergeWrite(work, plan);
        db.exec('COMMIT');
        return { status: 'merged', result: plan.result };
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      } finally {
        // App rules get the connection and may write anything through it, guests included; no
        // read can use the cache meanwhile (the gate is held), so clearing once at the end will do.
        this.#cache?.clear();
        this.#afterWrite();
      }
    });
  }

  /** Inside the merge's transaction: the state checks, then both profiles. */
  #mergeRead(
    work: MergeWork,
  ): MergeOutcome | { guest: StoredAttribute[]; user: StoredAttribute[] } {
    const s = this.#s;
    const row = s.getGuest.get(work.guestId) as RawGuest | undefined;
    const early = checkMergeable(row ? toGuest(row) : null, work);
    if (early) return early;
    return {
      guest: (s.readAttributes.all(`g:${work.guestId}`) as RawAttribute[]).map(toAttribute),
      user: (s.readAttributes.all(`u:${work.userId}`) as RawAttribute[]).map(toAttribute),
    };
  }

  #mergeWrite(work: MergeWork, plan: MergePlan): void {
    const s = this.#s;
    const userOwner = `u:${work.userId}`;
    for (const a of plan.writes) {
      s.upsertAttribute.run(userOwner, a.name, a.value, Buffer.byteLength(a.value), a.updatedAt);
    }
    for (const name of plan.deletes) s.deleteAttribute.run(userOwner, name);
    s.deleteOwner.run(`g:${work.guestId}`);
    s.markMerged.run(work.userId, work.now, plan.result, work.retainUntil, work.guestId);
    s.bumpCounter.run('merged');
  }

  deleteGuest(id: string): Promise<boolean> {
    return this.#write(() => {
      this.#forget(id);
      if (this.#s.deleteActiveGuest.run(id).changes === 0) return false;
      this.#s.deleteOwner.run(`g:${id}`);
      this.#s.bumpCounter.run('deleted');
      return true;
    });
  }

  purgeExpired(now: number, batchSize: number): Promise<number> {
    return this.#run(() => {
      this.#beforeWrite();
      try {
        return this.#purgeBatch(now, batchSize);
      } finally {
        this.#afterWrite();
      }
    });
  }

  #purgeBatch(now: number, batchSize: number): number {
    const s = this.#s;
    return this.#db
      .transaction(() => {
        const rows = s.expiredBatch.all(now, batchSize) as { id: string; merged: number }[];
        let merged = 0;
        for (const row of rows) {
          this.#forget(row.id);
          s.deleteOwner.run(`g:${row.id}`);
          s.deleteGuest.run(row.id);
          merged += row.merged;
        }
        if (rows.length > 0) {
          s.addCounter.run(rows.length - merged, 'purged_expired');
          if (merged > 0) s.addCounter.run(merged, 'purged_merged');
        }
        return rows.length;
      })
      .immediate();
  }

  stats(now: number): Promise<GuestStats> {
    return this.#run(() => {
      const counters = Object.fromEntries(
        (this.#s.counters.all() as { name: string; value: number }[]).map((r) => [r.name, r.value]),
      ) as Record<string, number | undefined>;
      const { n: expiredUnpurged } = this.#s.expiredUnpurged.get(now) as { n: number };
      const created = counters.created ?? 0;
      const merged = counters.merged ?? 0;
      const expired = (counters.purged_expired ?? 0) + expiredUnpurged;
      return {
        active: created - merged - expired - (counters.deleted ?? 0),
        merged,
        expired,
        created,
      };
    });
  }

  async close(): Promise<void> {
    this.#writes.flush();
    this.#reads.flush();
    await this.#gate.run(() => undefined);
    await this.#checkpointer?.close();
    if (this.#ownsDb && this.#db.open) this.#db.close();
  }
}
