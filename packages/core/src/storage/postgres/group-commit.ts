import type pg from 'pg';
import { GuestmodeError } from '../../errors.js';
import { assertWithinLimits, guestWriteTimes } from '../checks.js';
import type { AttributeWrite, GuestTimes, NewGuestRow, StoredAttribute } from '../types.js';
import { Batcher } from './batcher.js';
import type { Connection } from './connection.js';
import type { RawGuest } from './schema.js';

/** A guest created with its first attributes. */
export interface CreateWrite {
  readonly kind: 'create';
  readonly guest: NewGuestRow;
  readonly attributes: readonly StoredAttribute[];
}

/** One attribute written to a guest, the guest re-checked under its row lock. */
export interface PutWrite extends Omit<AttributeWrite, 'owner'> {
  readonly kind: 'put';
  readonly guestId: string;
}

export type GroupWrite = CreateWrite | PutWrite;

interface Queued {
  readonly write: GroupWrite;
  readonly resolve: (value: GuestTimes | null) => void;
  readonly reject: (error: unknown) => void;
}

/** Each write once more in a transaction of its own: the way out when a group fails as a whole. */
export type WriteAlone = (write: GroupWrite) => Promise<GuestTimes | null>;

/** At most this many writes share one transaction. */
const MAX_GROUP = 500;

interface LockedGuest {
  readonly secretHash: Uint8Array;
  readonly createdAt: number;
  expiresAt: number;
  readonly mergedInto: string | null;
}

/**
 * Group commit on PostgreSQL. Every commit waits for its WAL flush, so the creates and guest
 * writes that queue up while earlier groups are in flight share one transaction and one flush,
 * with one multi-row statement per kind of change. The checks of each write (credential, state,
 * limits) run here, in order, on the rows as locked by the group, so each write gets the answer
 * it would get alone, and a refused write only leaves the group's statements. A group that fails
 * in the database (a constraint, a deadlock) is rolled back and its writes run one by one, so
 * that one bad write never fails its neighbours. Promises settle after COMMIT.
 */
export class PostgresGroupCommit {
  readonly #db: Connection;
  readonly #alone: WriteAlone;
  readonly #batcher: Batcher<Queued>;

  constructor(db: Connection, maxInFlight: number, alone: WriteAlone) {
    this.#db = db;
    this.#alone = alone;
    this.#batcher = new Batcher(maxInFlight, MAX_GROUP, (group) => this.#commit(group));
  }

  add(write: GroupWrite): Promise<GuestTimes | null> {
    return new Promise((resolve, reject) => this.#batcher.add({ write, resolve, reject }));
  }

  idle(): Promise<void> {
    return this.#batcher.idle();
  }

  async #commit(group: Queued[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      // Creates alone are one statement: PostgreSQL commits it as it ends, with no BEGIN and
      // COMMIT round trips around it.
      outcomes = group.every((item) => item.write.kind === 'create')
        ? await this.#db.withClient((client) => this.#apply(client, group))
        : await this.#db.transaction((client) => this.#apply(client, group));
    } catch (error) {
      // The database is unreachable (wrapped as storage_unavailable): one by one would fail too.
      if (error instanceof GuestmodeError || group.length === 1) {
        for (const item of group) item.reject(error);
        return;
      }
      await Promise.all(
        group.map((item) => this.#alone(item.write).then(item.resolve, item.reject)),
      );
      return;
    }
    group.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  }

  /** The group's statements; refusals are outcomes, database failures throw. */
  async #apply(client: pg.PoolClient, group: Queued[]): Promise<Outcome[]> {
    const creates = group.flatMap((item) => (item.write.kind === 'create' ? [item.write] : []));
    const puts = group.flatMap((item) => (item.write.kind === 'put' ? [item.write] : []));
    const upserts = new Map<string, AttributeRow>();
    const extended = new Map<string, number>();
    const results = new Map<GroupWrite, Outcome>();
    // The attributes that exist before the group's writes, by `owner\nname`.
    const stored = new Set<string>();
    if (puts.length > 0) {
      const guests = await this.#lockGuests(client, puts);
      const sizes = await this.#profiles(client, puts);
      for (const [owner, profile] of sizes) {
        for (const name of profile.keys()) stored.add(`${owner}\n${name}`);
      }
      for (const put of puts) {
        results.set(put, check(put, guests, sizes, upserts, extended));
      }
    }
    if (creates.length > 0) {
      const attributes = creates.flatMap((c) =>
        c.attributes.map((a) => [`g:${c.guest.id}`, a] as const),
      );
      await this.#db.query(client, 'createGuests', [
        creates.map((c) => c.guest.id),
        creates.map((c) => Buffer.from(c.guest.secretHash)),
        creates.map((c) => c.guest.createdAt),
        creates.map((c) => c.guest.expiresAt),
        attributes.map(([owner]) => owner),
        attributes.map(([, a]) => a.name),
        attributes.map(([, a]) => a.value),
        attributes.map(([, a]) => Buffer.byteLength(a.value)),
        attributes.map(([, a]) => a.updatedAt),
      ]);
      for (const c of creates) results.set(c, { ok: true, value: null });
    }
    if (upserts.size > 0) {
      const changed: AttributeRow[] = [];
      const added: AttributeRow[] = [];
      for (const [key, row] of upserts) (stored.has(key) ? changed : added).push(row);
      await this.#db.query(client, 'writeAttributes', [...columns(changed), ...columns(added)]);
    }
    if (extended.size > 0) {
      await this.#db.query(client, 'extendGuests', [[...extended.keys()], [...extended.values()]]);
    }
    return group.map((item) => results.get(item.write)!);
  }

  /** Locks the guests written to, in id order (so that two groups never wait on each other). */
  async #lockGuests(client: pg.PoolClient, puts: PutWrite[]): Promise<Map<string, LockedGuest>> {
    const ids = [...new Set(puts.map((p) => p.guestId))];
    const { rows } = await this.#db.query<Omit<RawGuest, 'merged_at' | 'merge_result'>>(
      client,
      'lockGuests',
      [ids],
    );
    return new Map(
      rows.map((r) => [
        r.id,
        {
          secretHash: r.secret_hash,
          createdAt: Number(r.created_at),
          expiresAt: Number(r.expires_at),
          mergedInto: r.merged_into,
        },
      ]),
    );
  }

  /** The size of every attribute of the profiles written to, by owner and name. */
  async #profiles(
    client: pg.PoolClient,
    puts: PutWrite[],
  ): Promise<Map<string, Map<string, number>>> {
    const owners = [...new Set(puts.map((p) => `g:${p.guestId}`))];
    const { rows } = await this.#db.query<{ owner: string; name: string; size: number }>(
      client,
      'attributeSizes',
      [owners],
    );
    const profiles = new Map<string, Map<string, number>>(owners.map((o) => [o, new Map()]));
    for (const r of rows) profiles.get(r.owner)!.set(r.name, r.size);
    return profiles;
  }
}

type AttributeRow = [owner: string, a: StoredAttribute, size: number];

/** Rows as the five arrays of an `unnest`: owner, name, value, size, updated_at. */
function columns(rows: AttributeRow[]): unknown[][] {
  return [
    rows.map((r) => r[0]),
    rows.map((r) => r[1].name),
    rows.map((r) => r[1].value),
    rows.map((r) => r[2]),
    rows.map((r) => r[1].updatedAt),
  ];
}

type Outcome =
  | { readonly ok: true; readonly value: GuestTimes | null }
  | { readonly ok: false; readonly error: unknown };

/**
 * One write's checks against the group's state so far, as if the writes before it in the group
 * had committed alone; an accepted write updates that state.
 */
function check(
  put: PutWrite,
  guests: Map<string, LockedGuest>,
  profiles: Map<string, Map<string, number>>,
  upserts: Map<string, AttributeRow>,
  extended: Map<string, number>,
): Outcome {
  try {
    const guest = guests.get(put.guestId) ?? null;
    const times = guestWriteTimes(guest, put.now, put.credential);
    const owner = `g:${put.guestId}`;
    const profile = profiles.get(owner)!;
    const size = Buffer.byteLength(put.attribute.value);
    let count = 1;
    let bytes = size;
    for (const [name, other] of profile) {
      if (name === put.attribute.name) continue;
      count++;
      bytes += other;
    }
    assertWithinLimits(count, bytes, put.limits);
    profile.set(put.attribute.name, size);
    upserts.delete(`${owner}\n${put.attribute.name}`); // re-inserted last: the later write wins
    upserts.set(`${owner}\n${put.attribute.name}`, [owner, put.attribute, size]);
    if (times.extended && guest) {
      guest.expiresAt = times.expiresAt;
      extended.set(put.guestId, times.expiresAt);
    }
    return { ok: true, value: times };
  } catch (error) {
    return { ok: false, error };
  }
}
