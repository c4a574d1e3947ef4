import type { GuestRow, StoredAttribute } from '../types.js';
import { Batcher } from './batcher.js';
import type { Connection } from './connection.js';
import { wrap } from './driver-errors.js';
import { type RawGuest, toGuestState } from './schema.js';

export type GuestWithAttributes = {
  readonly guest: Omit<GuestRow, 'mergeResult'>;
  readonly attributes: StoredAttribute[];
};

interface Queued {
  readonly id: string;
  readonly resolve: (value: GuestWithAttributes | null) => void;
  readonly reject: (error: unknown) => void;
}

type Row = Omit<RawGuest, 'merge_result'> & {
  name: string | null;
  value: string | null;
  attribute_updated_at: string | null;
};

/** At most this many guests per statement. */
const MAX_GROUP = 500;

/**
 * Group reads: the guest reads (every credential check) that queue up while earlier ones are in
 * flight become one statement, `WHERE id = ANY($1)`, so a round trip and a statement's fixed
 * cost are shared. Each read is one statement outside any transaction, as alone: a group only
 * ever holds requests received before it was sent, so no answer is older than its request.
 */
export class GroupReads {
  readonly #db: Connection;
  readonly #batcher: Batcher<Queued>;

  constructor(db: Connection, maxInFlight: number) {
    this.#db = db;
    this.#batcher = new Batcher(maxInFlight, MAX_GROUP, (group) => this.#read(group));
  }

  get(id: string): Promise<GuestWithAttributes | null> {
    return new Promise((resolve, reject) => this.#batcher.add({ id, resolve, reject }));
  }

  idle(): Promise<void> {
    return this.#batcher.idle();
  }

  async #read(group: Queued[]): Promise<void> {
    let rows: Row[];
    try {
      const ids = [...new Set(group.map((item) => item.id))];
      rows = (await this.#db.query<Row>(this.#db.pool, 'guestsWithAttributes', [ids]).catch(wrap))
        .rows;
    } catch (error) {
      for (const item of group) item.reject(error);
      return;
    }
    const found = new Map<string, GuestWithAttributes>();
    for (const row of rows) {
      let entry = found.get(row.id);
      if (entry === undefined) {
        entry = { guest: toGuestState(row), attributes: [] };
        found.set(row.id, entry);
      }
      if (row.name !== null && row.value !== null) {
        entry.attributes.push({
          name: row.name,
          value: row.value,
          updatedAt: Number(row.attribute_updated_at),
        });
      }
    }
    for (const item of group) {
      const entry = found.get(item.id);
      // Two reads of one guest in a group get their own copies of the attribute list.
      item.resolve(entry ? { guest: entry.guest, attributes: [...entry.attributes] } : null);
    }
  }
}
