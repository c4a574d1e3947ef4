import type Database from 'better-sqlite3';
import { assertWithinLimits, checkMergeable, guestWriteTimes } from '../checks.js';
import { migrateSqlite } from '../migrations.js';
import {
  type AttributeWrite,
  type EventOutbox,
  type GuestCredentialCheck,
  type GuestRow,
  type GuestStats,
  type GuestStorage,
  type GuestTimes,
  type MergeOutcome,
  type MergePlan,
  type MergeWork,
  type NewEvent,
  type NewGuestRow,
  ownerKey,
  type Principal,
  type PurgePolicy,
  type StoredAttribute,
  type StoredUser,
} from '../types.js';
import type { BackgroundCheckpointer } from './checkpointer.js';
import { deleteUser, listGuests, readUser } from './data-rights.js';
import { unavailable } from './driver-errors.js';
import { GroupCommit } from './group-commit.js';
import { CoherentGuestCache, type GuestWithAttributes } from './guest-cache.js';
import { sqliteOutbox, writeEvent } from './outbox.js';
import { Gate, TurnBatch } from './scheduler.js';
import {
  type GuestWithAttributeRow,
  prepareStatements,
  type RawAttribute,
  type RawGuest,
  SQLITE_MIGRATIONS,
  type Statements,
  toAttribute,
  toGuest,
} from './schema.js';
import { readStats } from './stats.js';

interface QueuedRead {
  readonly id: string;
  readonly resolve: (value: GuestWithAttributes | null) => void;
  readonly reject: (error: unknown) => void;
}

type MergeInputs = { guest: StoredAttribute[]; user: StoredAttribute[] };

/** How the connection was opened: decided, and checked, by `openSqliteStorage`. */
export interface SqliteSetup {
  readonly db: Database.Database;
  /** Close the connection on `close()` (it was opened from a path). */
  readonly ownsDb: boolean;
  /** Bytes of the read cache, or `false` for none. */
  readonly readCacheBytes: number | false;
  readonly checkpointer: BackgroundCheckpointer | null;
}

/**
 * The guest operations on one `better-sqlite3` connection. Statements run synchronously, so
 * operations do not interleave; writes go through group commit, guest reads through group
 * reads, and a merge with app rules (which may await) holds the gate for its own transaction.
 */
export class SqliteStorage implements GuestStorage {
  /** Every batch runs on the event loop: small batches, with rests in between. */
  readonly purgePolicy: PurgePolicy = { batchSize: 200, paced: true };
  readonly #db: Database.Database;
  readonly #ownsDb: boolean;
  readonly #checkpointer: BackgroundCheckpointer | null;
  readonly #gate = new Gate();
  #statements: Statements | undefined;
  readonly #cache: CoherentGuestCache | undefined;
  readonly #writes: GroupCommit;
  readonly #reads = new TurnBatch<QueuedRead>((batch) => {
    if (this.#gate.idle) this.#readGroup(batch);
    else void this.#gate.run(() => this.#readGroup(batch));
  });
  /**
   * Guests created by the open group: the `created` counter moves once per group, by this many,
   * instead of one UPDATE of the same row per guest.
   */
  #createdInGroup = 0;
  readonly outbox: EventOutbox;

  constructor(setup: SqliteSetup) {
    this.#db = setup.db;
    this.outbox = sqliteOutbox(setup.db, (fn) => this.#run(fn));
    this.#ownsDb = setup.ownsDb;
    this.#checkpointer = setup.checkpointer;
    if (setup.readCacheBytes !== false) {
      this.#cache = new CoherentGuestCache(setup.readCacheBytes, {
        dataVersion: () => this.#s.dataVersion.get() as number,
        totalChanges: () => this.#s.totalChanges.get() as number,
      });
    }
    this.#writes = new GroupCommit(
      this.#gate,
      () => this.#s,
      () => this.#db.inTransaction,
      {
        opening: () => this.#cache?.beforeWrite(),
        committing: () => {
          if (this.#createdInGroup > 0) {
            this.#s.addCounter.run(this.#createdInGroup, 'created');
            this.#createdInGroup = 0;
          }
        },
        closed: (committed) => {
          if (!committed) this.#createdInGroup = 0;
          this.#cache?.afterWrite();
        },
      },
    );
  }

  get #s(): Statements {
    if (!this.#statements) throw new TypeError('SQLite storage used before migrate()');
    return this.#statements;
  }

  async migrate(): Promise<void> {
    migrateSqlite(this.#db, SQLITE_MIGRATIONS);
    this.#statements = prepareStatements(this.#db);
    this.#cache?.clear();
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

  createGuest(
    guest: NewGuestRow,
    attributes: readonly StoredAttribute[],
    event?: NewEvent,
  ): Promise<void> {
    return this.#writes.add(() => {
      const s = this.#s;
      s.insertGuest.run(guest.id, guest.secretHash, guest.createdAt, guest.expiresAt);
      const owner = `g:${guest.id}`;
      for (const a of attributes) {
        s.upsertAttribute.run(owner, a.name, a.value, Buffer.byteLength(a.value), a.updatedAt);
      }
      if (event) writeEvent(this.#db, event);
      // Last: a create that throws half-way is rolled back to its savepoint and never counted.
      this.#createdInGroup++;
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
   * Group reads, the read side of group commit: the guest reads that arrive during one turn of
   * the event loop share one read transaction and one coherence check of the cache. Each
   * request was received before the check, so each answer is at least as new as the request.
   */
  #readGroup(batch: QueuedRead[]): void {
    const cache = this.#cache!;
    const shared = batch.length > 1;
    try {
      if (shared) this.#s.beginRead.run();
      cache.sync();
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

  #queryGuest(id: string, cache?: CoherentGuestCache): GuestWithAttributes | null {
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
    return this.#writes.add(() => {
      this.#cache?.forget(id);
      this.#s.extendGuest.run(expiresAt, id, expiresAt);
    });
  }

  readAttributes(owner: Principal): Promise<StoredAttribute[]> {
    return this.#run(() =>
      (this.#s.readAttributes.all(ownerKey(owner)) as RawAttribute[]).map(toAttribute),
    );
  }

  putAttribute(write: AttributeWrite): Promise<GuestTimes | null> {
    const { owner, attribute, limits, now, credential } = write;
    const key = ownerKey(owner);
    const size = Buffer.byteLength(attribute.value);
    return this.#writes.add(() => {
      const s = this.#s;
      if (owner.kind === 'guest') this.#cache?.forget(owner.id);
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
    return this.#writes.add(() => {
      if (owner.kind === 'guest') {
        this.#cache?.forget(owner.id);
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
    return work.batchable ? this.#mergeInGroup(work) : this.#mergeAlone(work);
  }

  /**
   * A merge whose plan never awaits nor touches the connection (built-in rules only) is one
   * more write of the group commit. Its preview writes nothing, so there is nothing to undo.
   */
  #mergeInGroup(work: MergeWork): Promise<MergeOutcome> {
    return this.#writes.add((): MergeOutcome => {
      this.#cache?.forget(work.guestId);
      const read = this.#mergeRead(work);
      if ('status' in read) return read;
      const plan = work.plan(read.guest, read.user, { dialect: 'sqlite', handle: this.#db });
      if (plan instanceof Promise) {
        throw new TypeError('A batchable merge plan returned a promise');
      }
      if (work.preview) return { status: 'previewed', result: plan.result };
      this.#mergeWrite(work, plan);
      return { status: 'merged', result: plan.result };
    });
  }

  /**
   * App rules may await and use the connection: the merge holds the gate (every other operation
   * waits) inside a transaction of its own.
   */
  #mergeAlone(work: MergeWork): Promise<MergeOutcome> {
    return this.#gate.run(async (): Promise<MergeOutcome> => {
      const s = this.#s;
      s.begin.run();
      try {
        const read = this.#mergeRead(work);
        if ('status' in read) {
          s.rollback.run();
          return read;
        }
        const plan = await work.plan(read.guest, read.user, {
          dialect: 'sqlite',
          handle: this.#db,
        });
        if (work.preview) {
          s.rollback.run();
          return { status: 'previewed', result: plan.result };
        }
        this.#mergeWrite(work, plan);
        s.commit.run();
        return { status: 'merged', result: plan.result };
      } catch (error) {
        if (this.#db.inTransaction) s.rollback.run();
        throw unavailable(error);
      } finally {
        // App rules get the connection and may write anything through it, guests included; no
        // read can use the cache meanwhile (the gate is held), so clearing once at the end will do.
        this.#cache?.clear();
        this.#cache?.afterWrite();
      }
    });
  }

  /** Inside the merge's transaction: the state checks, then both profiles. */
  #mergeRead(work: MergeWork): MergeOutcome | MergeInputs {
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
    s.addCounter.run(1, 'merged');
    if (plan.event) writeEvent(this.#db, plan.event);
  }

  deleteGuest(id: string, event?: NewEvent): Promise<boolean> {
    return this.#writes.add(() => {
      const s = this.#s;
      this.#cache?.forget(id);
      if (s.deleteActiveGuest.run(id).changes === 0) return false;
      s.deleteOwner.run(`g:${id}`);
      s.addCounter.run(1, 'deleted');
      if (event) writeEvent(this.#db, event);
      return true;
    });
  }

  readUser(userId: string): Promise<StoredUser> {
    return this.#run(() => readUser(this.#db, userId));
  }

  listGuests(
    afterId: string,
    limit: number,
  ): Promise<Omit<GuestRow, 'secretHash' | 'mergeResult'>[]> {
    return this.#run(() => listGuests(this.#db, afterId, limit));
  }

  deleteUser(userId: string, event?: NewEvent): Promise<{ attributes: number; merges: number }> {
    return this.#run(() => {
      this.#cache?.beforeWrite();
      try {
        return deleteUser(this.#db, userId, event);
      } finally {
        this.#cache?.afterWrite();
      }
    });
  }

  purgeExpired(
    now: number,
    batchSize: number,
    expired?: (guestId: string) => NewEvent,
  ): Promise<number> {
    return this.#run(() => {
      this.#cache?.beforeWrite();
      try {
        return this.#purgeBatch(now, batchSize, expired);
      } finally {
        this.#cache?.afterWrite();
      }
    });
  }

  #purgeBatch(now: number, batchSize: number, expired?: (guestId: string) => NewEvent): number {
    const s = this.#s;
    s.begin.run();
    try {
      const rows = s.expiredBatch.all(now, batchSize) as { id: string; merged: number }[];
      let merged = 0;
      for (const row of rows) {
        this.#cache?.forget(row.id);
        s.deleteOwner.run(`g:${row.id}`);
        s.deleteGuest.run(row.id);
        merged += row.merged;
        if (expired && !row.merged) writeEvent(this.#db, expired(row.id));
      }
      if (rows.length > 0) {
        s.addCounter.run(rows.length - merged, 'purged_expired');
        if (merged > 0) s.addCounter.run(merged, 'purged_merged');
      }
      s.commit.run();
      return rows.length;
    } catch (error) {
      if (this.#db.inTransaction) s.rollback.run();
      throw error;
    }
  }

  stats(now: number): Promise<GuestStats> {
    return this.#run(() => readStats(this.#s, now));
  }

  async close(): Promise<void> {
    this.#writes.flush();
    this.#reads.flush();
    await this.#gate.run(() => undefined);
    await this.#checkpointer?.close();
    if (this.#ownsDb && this.#db.open) this.#db.close();
  }
}
