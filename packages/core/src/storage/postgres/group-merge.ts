import type pg from 'pg';
import { checkMergeable } from '../checks.js';
import type {
  GuestRow,
  MergeOutcome,
  MergePlan,
  MergeWork,
  NewEvent,
  StoredAttribute,
} from '../types.js';
import { Batcher } from './batcher.js';
import type { Connection } from './connection.js';
import { writeEvents } from './outbox.js';
import { type RawAttribute, type RawGuest, toAttribute, toGuest } from './schema.js';

interface Queued {
  readonly work: MergeWork;
  readonly resolve: (outcome: MergeOutcome) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome =
  | { readonly ok: true; readonly value: MergeOutcome }
  | { readonly ok: false; readonly error: unknown };

/** One merge in a transaction of its own: the way out when a group fails as a whole. */
export type MergeAlone = (work: MergeWork) => Promise<MergeOutcome>;

/**
 * At most this many merges share one transaction. Each merge with app rules gets a savepoint,
 * and PostgreSQL keeps up to 64 subtransactions per transaction in memory before it spills.
 */
const MAX_GROUP = 32;

/**
 * Merges on PostgreSQL, grouped: the merges that queue up while earlier groups are in flight
 * share one transaction and one commit flush. With built-in rules a group is five statements however
 * many merges it holds: BEGIN; one that locks every user and guest involved (users in hash order, then guests
 * in id order, the order `lockMerge` takes its two in, so that groups and lone merges never
 * wait on each other in a circle); one that reads every profile involved; one that writes every
 * merge; COMMIT. Between the read and the write each merge is checked and planned in turn
 * against the group's state so far, as if the merges before it had committed alone: a guest
 * merged earlier in the group answers a replay or `guest_already_merged`, a user's profile holds
 * what the earlier merges wrote into it. A refused merge (a throwing rule, a guest merged
 * elsewhere or expired) adds nothing to the write. A plan with app rules, which may write through
 * the connection, runs inside a savepoint of its own and is rolled back to it when it throws;
 * the merges planned before it are written first, so that its rules see them in the database.
 * A group that fails in the database (a lost connection, a failed COMMIT, a deadlock) is rolled
 * back and each of its merges runs once more alone, where a merge whose commit did land answers
 * its stored result as a replay. Promises settle after COMMIT.
 */
export class PostgresGroupMerge {
  readonly #db: Connection;
  readonly #alone: MergeAlone;
  readonly #batcher: Batcher<Queued>;

  constructor(db: Connection, maxInFlight: number, alone: MergeAlone) {
    this.#db = db;
    this.#alone = alone;
    this.#batcher = new Batcher(maxInFlight, MAX_GROUP, (group) => this.#commit(group));
  }

  add(work: MergeWork): Promise<MergeOutcome> {
    return new Promise((resolve, reject) => this.#batcher.add({ work, resolve, reject }));
  }

  idle(): Promise<void> {
    return this.#batcher.idle();
  }

  async #commit(group: Queued[]): Promise<void> {
    let connected = false;
    let outcomes: Outcome[];
    try {
      outcomes = await this.#db.withClient((client, markBroken) => {
        connected = true;
        return this.#run(client, markBroken, group);
      });
    } catch (error) {
      // No connection at all (wrapped as storage_unavailable): one by one would wait as long.
      if (!connected) {
        for (const item of group) item.reject(error);
        return;
      }
      await Promise.all(
        group.map((item) => this.#alone(item.work).then(item.resolve, item.reject)),
      );
      return;
    }
    group.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  }

  /** BEGIN to COMMIT on `client`; a database failure anywhere rolls back and throws. */
  async #run(client: pg.PoolClient, markBroken: () => void, group: Queued[]): Promise<Outcome[]> {
    try {
      return await this.#statements(client, group);
    } catch (error) {
      // A ROLLBACK that fails leaves the connection in an unknown state: it is not reused.
      await client.query('ROLLBACK').catch(markBroken);
      throw error;
    }
  }

  async #statements(client: pg.PoolClient, group: Queued[]): Promise<Outcome[]> {
    const works = group.map((item) => item.work);
    await client.query('BEGIN');
    const locked = await this.#db.query<RawGuest>(client, 'lockMergeGroup', [
      [...new Set(works.map((w) => `u:${w.userId}`))],
      [...new Set(works.map((w) => w.guestId))],
    ]);
    const read = await this.#db.query<RawAttribute & { owner: string }>(client, 'readOwners', [
      [...new Set(works.flatMap((w) => [`g:${w.guestId}`, `u:${w.userId}`]))],
    ]);
    const state = new GroupState(locked.rows, read.rows);
    const outcomes: Outcome[] = [];
    for (const [i, work] of works.entries()) {
      let early: MergeOutcome | null;
      try {
        early = checkMergeable(state.guest(work.guestId), work);
      } catch (error) {
        outcomes.push({ ok: false, error });
        continue;
      }
      if (early) {
        outcomes.push({ ok: true, value: early });
        continue;
      }
      const savepoint = work.batchable ? undefined : `gm_merge_${i}`;
      if (savepoint) {
        // App rules may read the store through the connection: they see the merges before.
        await this.#finish(client, state);
        await client.query(`SAVEPOINT ${savepoint}`);
      }
      let plan: MergePlan;
      try {
        plan = await work.plan(
          state.profile(`g:${work.guestId}`),
          state.profile(`u:${work.userId}`),
          { dialect: 'postgres', handle: client },
        );
      } catch (error) {
        if (savepoint) await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
        outcomes.push({ ok: false, error });
        continue;
      }
      state.merged(work, plan);
      outcomes.push({ ok: true, value: { status: 'merged', result: plan.result } });
    }
    await this.#finish(client, state);
    // The outbox rows of the merges that stay, in the transaction that makes them happen.
    await writeEvents(client, state.events);
    await client.query('COMMIT');
    return outcomes;
  }

  /** Writes the merges planned since the last write, if any. */
  async #finish(client: pg.PoolClient, state: GroupState): Promise<void> {
    const values = state.takeWrites();
    if (values) await this.#db.query(client, 'finishMerges', values);
  }
}

/** The guests and profiles of a group as locked and read, moved on by each merge planned. */
class GroupState {
  readonly #guests: Map<string, GuestRow>;
  readonly #profiles = new Map<string, Map<string, StoredAttribute>>();
  /** The user attributes changed since the last write, by owner and name. */
  readonly #changed = new Map<string, Set<string>>();
  /** The merges planned and not yet written. */
  readonly #merged: { work: MergeWork; result: string }[] = [];
  readonly events: NewEvent[] = [];

  constructor(guests: RawGuest[], attributes: (RawAttribute & { owner: string })[]) {
    this.#guests = new Map(guests.map((row) => [row.id, toGuest(row)]));
    for (const row of attributes) this.#of(row.owner).set(row.name, toAttribute(row));
  }

  guest(id: string): GuestRow | null {
    return this.#guests.get(id) ?? null;
  }

  /** The profile's attributes in the order `readOwners` gave them (names a merge adds, last). */
  profile(owner: string): StoredAttribute[] {
    return [...this.#of(owner).values()];
  }

  merged(work: MergeWork, plan: MergePlan): void {
    const owner = `u:${work.userId}`;
    const user = this.#of(owner);
    let changed = this.#changed.get(owner);
    if (!changed) {
      changed = new Set();
      this.#changed.set(owner, changed);
    }
    for (const a of plan.writes) {
      user.set(a.name, a);
      changed.add(a.name);
    }
    for (const name of plan.deletes) {
      user.delete(name);
      changed.add(name);
    }
    this.#of(`g:${work.guestId}`).clear();
    const guest = this.#guests.get(work.guestId)!;
    this.#guests.set(work.guestId, {
      ...guest,
      mergedInto: work.userId,
      mergedAt: work.now,
      mergeResult: plan.result,
      expiresAt: Math.max(guest.expiresAt, work.retainUntil),
    });
    this.#merged.push({ work, result: plan.result });
    if (plan.event) this.events.push(plan.event);
  }

  /**
   * The values of `finishMerges` for the merges planned since the last call (`undefined`: none).
   * Each changed user attribute appears once, with the group's last word on it, since one
   * statement cannot write the same row twice.
   */
  takeWrites(): unknown[] | undefined {
    if (this.#merged.length === 0) return undefined;
    const writes: [string, StoredAttribute][] = [];
    const deletes: [string, string][] = [];
    for (const [owner, names] of this.#changed) {
      const profile = this.#of(owner);
      for (const name of names) {
        const attribute = profile.get(name);
        if (attribute) writes.push([owner, attribute]);
        else deletes.push([owner, name]);
      }
    }
    const merged = this.#merged.splice(0);
    this.#changed.clear();
    return [
      writes.map(([owner]) => owner),
      writes.map(([, a]) => a.name),
      writes.map(([, a]) => a.value),
      writes.map(([, a]) => Buffer.byteLength(a.value)),
      writes.map(([, a]) => a.updatedAt),
      deletes.map(([owner]) => owner),
      deletes.map(([, name]) => name),
      merged.map((m) => `g:${m.work.guestId}`),
      merged.map((m) => m.work.guestId),
      merged.map((m) => m.work.userId),
      merged.map((m) => m.work.now),
      merged.map((m) => m.result),
      merged.map((m) => m.work.retainUntil),
    ];
  }

  #of(owner: string): Map<string, StoredAttribute> {
    let profile = this.#profiles.get(owner);
    if (!profile) {
      profile = new Map();
      this.#profiles.set(owner, profile);
    }
    return profile;
  }
}
