/**
 * The storage contract. It is shaped by Guestmode's operations, not by tables: each method is one
 * atomic step (a guest created with its first attributes, a write that re-checks the guest under
 * lock, a merge that runs entirely inside one transaction). Every adapter passes the shared
 * conformance suite in `./conformance/`.
 */

/** What the shared guest-creation limit needs of a store's pool: one statement at a time. */
export interface LimiterPool {
  query(config: { name?: string; text: string; values?: unknown[] }): Promise<unknown>;
}

/** Whose attributes: a guest (by guest id) or an identified user (by the OIDC `sub`). */
export interface Principal {
  readonly kind: 'guest' | 'user';
  readonly id: string;
}

/** An attribute as stored: `value` is JSON text, `updatedAt` epoch milliseconds. */
export interface StoredAttribute {
  readonly name: string;
  readonly value: string;
  readonly updatedAt: number;
}

export interface GuestRow {
  readonly id: string;
  readonly secretHash: Uint8Array;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** The user this guest was merged into; `null` while the guest is active. */
  readonly mergedInto: string | null;
  readonly mergedAt: number | null;
  /** The merge result (JSON), kept so that a retry answers exactly what the first call did. */
  readonly mergeResult: string | null;
}

export interface NewGuestRow {
  readonly id: string;
  readonly secretHash: Uint8Array;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/**
 * A write made with a guest credential: the credential is checked, and the expiry slid, inside
 * the write's own transaction, so the write path costs one round trip.
 */
export interface GuestCredentialCheck {
  /** SHA-256 of the presented secret, compared in constant time with the stored hash. */
  readonly secretHash: Uint8Array;
  /** Move the expiry to `slideTo` when it is earlier than `slideWhenBefore`. */
  readonly slideTo: number;
  readonly slideWhenBefore: number;
}

/** A guest's times after a write (epoch ms); `extended` when the write slid the expiry. */
export interface GuestTimes {
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly extended: boolean;
}

export interface StorageLimits {
  readonly maxValueBytes: number;
  readonly maxProfileBytes: number;
  readonly maxAttributes: number;
}

/**
 * Handed to merge rules so that an app's own rows move in the same transaction as the guest:
 * `handle` is the `better-sqlite3` Database (inside the transaction) or the `pg` PoolClient.
 */
export interface MergeTransaction {
  readonly dialect: 'sqlite' | 'postgres';
  readonly handle: unknown;
}

export interface MergePlan {
  /** User attributes to write (insert or replace). */
  readonly writes: readonly StoredAttribute[];
  /** User attributes to delete. */
  readonly deletes: readonly string[];
  /** The result to store with the merged guest and to return to retries (JSON). */
  readonly result: string;
  /** The `guest.merged` event, written in the merge's transaction when events are on. */
  readonly event?: NewEvent;
}

export interface MergeWork {
  readonly guestId: string;
  readonly userId: string;
  readonly now: number;
  /** Until when the merged guest's record (and so its idempotent result) is kept. */
  readonly retainUntil: number;
  /** Compute everything and roll back: a preview. */
  readonly preview: boolean;
  /**
   * `plan` returns a plan, never a promise, and does not use the transaction's handle (every
   * rule involved is built in), so the store may run the merge inside a transaction it shares
   * with other writes.
   */
  readonly batchable?: boolean;
  /**
   * Runs inside the transaction, after the guest is locked and checked, with both profiles as
   * they are under that lock. Throwing aborts the merge and rolls everything back.
   */
  plan(
    guest: readonly StoredAttribute[],
    user: readonly StoredAttribute[],
    transaction: MergeTransaction,
  ): MergePlan | Promise<MergePlan>;
}

export type MergeOutcome =
  /** This call merged the guest. */
  | { readonly status: 'merged'; readonly result: string }
  /** The guest had already been merged into the same user: the stored result. */
  | { readonly status: 'replayed'; readonly result: string }
  /** `preview`: what would happen; nothing was changed. */
  | { readonly status: 'previewed'; readonly result: string };

export interface GuestStats {
  /** Active (not merged, not expired) guests. */
  readonly active: number;
  /** Guests merged into a user, counting those already purged. */
  readonly merged: number;
  /** Guests that expired without being merged (purged or not yet). */
  readonly expired: number;
  /** All guests ever created (active + merged + expired + deleted on request). */
  readonly created: number;
}

/** How `purgeExpired` is best called on this store. */
export interface PurgePolicy {
  /** Guests per batch (per transaction). */
  readonly batchSize: number;
  /**
   * Rest between batches, half as long as each batch took: for a store whose batches run on the
   * event loop, so that requests keep being served while a backlog is cleared.
   */
  readonly paced: boolean;
}

/** One guest merged into a user, as its record keeps it. */
export interface MergeRecord {
  readonly guestId: string;
  /** Epoch ms. */
  readonly mergedAt: number;
  /** The stored merge result (JSON text). */
  readonly result: string;
}

/** Everything the store holds about one user. */
export interface StoredUser {
  readonly attributes: readonly StoredAttribute[];
  readonly merges: readonly MergeRecord[];
}

/** What {@link GuestStorage.runExclusive} did: ran the work, or skipped it. */
export type ExclusiveRun<T> = { readonly ran: true; readonly value: T } | { readonly ran: false };

/** One attribute to write, and what the write is checked against. */
export interface AttributeWrite {
  readonly owner: Principal;
  readonly attribute: StoredAttribute;
  readonly limits: StorageLimits;
  readonly now: number;
  /** A guest owner's credential, checked under the guest's lock (absent for trusted callers). */
  readonly credential?: GuestCredentialCheck | undefined;
}

export interface GuestStorage {
  /** The purge's defaults for this store. */
  readonly purgePolicy: PurgePolicy;
  /**
   * Runs `fn` unless another process sharing the database is running the task `name` (several
   * app servers on one PostgreSQL database), and then answers `{ ran: false }`. A store only one
   * process uses leaves it out.
   */
  runExclusive?<T>(name: string, fn: () => Promise<T>): Promise<ExclusiveRun<T>>;
  /**
   * The pool of a PostgreSQL store (a `pg.Pool`, or anything that runs a `pg` query config), for
   * counters that every process on the database shares: the guest-creation limit keeps its
   * windows in the `gm_rate_limits` table, which the store's schema must hold. Absent for stores
   * one process uses.
   */
  readonly sharedPool?: LimiterPool;
  /** Creates or upgrades the schema. Idempotent; safe to run from several processes. */
  migrate(): Promise<void>;
  /**
   * Creates a guest together with its first attributes, atomically (and `event`, when given, in
   * the same transaction).
   */
  createGuest(
    guest: NewGuestRow,
    attributes: readonly StoredAttribute[],
    event?: NewEvent,
  ): Promise<void>;
  getGuest(id: string): Promise<GuestRow | null>;
  /**
   * The read path in one round trip: the guest (without its stored merge result, which the
   * read path never needs and which can be large) and its attributes.
   */
  getGuestWithAttributes(id: string): Promise<{
    readonly guest: Omit<GuestRow, 'mergeResult'>;
    readonly attributes: readonly StoredAttribute[];
  } | null>;
  /** Moves an active guest's expiry forward (never backward). */
  extendGuest(id: string, expiresAt: number): Promise<void>;
  readAttributes(owner: Principal): Promise<StoredAttribute[]>;
  /**
   * Inserts or replaces one attribute, enforcing `limits` on the whole profile atomically. For a
   * guest owner the guest is re-checked under lock: a write never lands in a merged, expired or
   * missing guest (it fails with `guest_merged`, `guest_expired` or `invalid_guest_credential`),
   * so no write can slip past a concurrent merge and be lost.
   */
  putAttribute(write: AttributeWrite): Promise<GuestTimes | null>;
  /** Deletes one attribute; `false` when there was none. Guest owners are re-checked as above. */
  deleteAttribute(owner: Principal, name: string, now: number): Promise<boolean>;
  /**
   * The merge transaction: lock the guest; refuse it when missing (`invalid_guest_credential`),
   * merged into another user (`guest_already_merged`) or expired (`guest_expired`); return the
   * stored result when it was merged into this user; otherwise call `plan` with both profiles,
   * write the user's attributes, delete the guest's, mark the guest merged, commit.
   */
  merge(work: MergeWork): Promise<MergeOutcome>;
  /**
   * Deletes an active guest and its attributes (a visitor who discards their guest data).
   * A merged guest is kept: its record answers retries until it expires. `false` if nothing
   * was deleted. `event` is written in the same transaction, only when the guest was deleted.
   */
  deleteGuest(id: string, event?: NewEvent): Promise<boolean>;
  /** Up to `limit` guests whose id sorts after `afterId` (`''`: from the first), by id. */
  listGuests(
    afterId: string,
    limit: number,
  ): Promise<Omit<GuestRow, 'secretHash' | 'mergeResult'>[]>;
  /** The user's attributes and the records of the guests merged into them, oldest first. */
  readUser(userId: string): Promise<StoredUser>;
  /**
   * Deletes the user's attributes and the records of the guests merged into them, in one
   * transaction; answers how many of each went. The funnel totals keep counting those merges.
   */
  deleteUser(
    userId: string,
    event?: NewEvent,
  ): Promise<{ readonly attributes: number; readonly merges: number }>;
  /**
   * Deletes up to `batchSize` guests whose `expiresAt` has passed; returns how many. With
   * `expired`, the event it builds for each deleted guest that was never merged is written in
   * the batch's transaction.
   */
  purgeExpired(
    now: number,
    batchSize: number,
    expired?: (guestId: string) => NewEvent,
  ): Promise<number>;
  /** The event outbox: what the delivery worker reads and settles. */
  readonly outbox: EventOutbox;
  stats(now: number): Promise<GuestStats>;
  close(): Promise<void>;
}

/**
 * A lifecycle event as the outbox stores it. `subject` orders delivery (`g:<guestId>`,
 * `u:<sub>`): an event is not handed out while an earlier one of its subject is pending.
 * `payload` is the JSON body sent as it is.
 */
export interface NewEvent {
  readonly id: string;
  readonly type: string;
  readonly subject: string;
  readonly payload: string;
  readonly createdAt: number;
}

export type EventState = 'pending' | 'delivered' | 'dead';

export interface StoredEvent extends NewEvent {
  readonly state: EventState;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  /** The consumers that have taken the event (endpoint ids, `onEvent`). */
  readonly done: readonly string[];
  readonly lastError: string | null;
}

/** An event handed to one worker until `leaseUntil`; `claim` settles it. */
export interface ClaimedEvent extends StoredEvent {
  readonly claim: string;
}

/** How an attempt ended: delivered, retried at `nextAttemptAt`, or given up. */
export interface EventSettlement {
  readonly state: EventState;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly done: readonly string[];
  readonly lastError: string | null;
  /** Epoch ms. */
  readonly settledAt: number;
}

/**
 * The transactional outbox: events are written by the operations above, in their transactions;
 * the delivery worker claims due events for a lease (on PostgreSQL several processes claim
 * without overlap; an event whose claimer died is claimed again when its lease ends).
 */
export interface EventOutbox {
  claim(now: number, leaseUntil: number, limit: number): Promise<ClaimedEvent[]>;
  /** `false` when the claim was lost (the lease ran out and another worker took the event). */
  settle(id: string, claim: string, settlement: EventSettlement): Promise<boolean>;
  list(state: EventState | undefined, afterId: string, limit: number): Promise<StoredEvent[]>;
  /** Makes an event pending again, due now, as if new; `false` when there is no such event. */
  resend(id: string, now: number): Promise<boolean>;
  /**
   * Voids every claim, for a store only one process delivers from (SQLite): claims left by a
   * process that was killed are its own, and need not wait for their leases to run out.
   */
  releaseClaims?(): Promise<void>;
  /** Deletes delivered and dead events settled before `before`; returns how many. */
  prune(before: number, limit: number): Promise<number>;
}

export function ownerKey(owner: Principal): string {
  return owner.kind === 'guest' ? `g:${owner.id}` : `u:${owner.id}`;
}
