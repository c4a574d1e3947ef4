import type { GuestRow, StoredAttribute } from '../types.js';

/** What a guest read returns, and what the cache keeps: the guest and its attributes. */
export interface GuestWithAttributes {
  readonly guest: Omit<GuestRow, 'mergeResult'>;
  readonly attributes: readonly StoredAttribute[];
}

/** Rough heap cost of an entry beyond its strings: the objects, the map slot, the hash. */
const ENTRY_OVERHEAD = 256;
const ATTRIBUTE_OVERHEAD = 96;

/**
 * A least-recently-used map of guests by id, bounded by an estimate of the memory it holds.
 *
 * It knows nothing about coherence: {@link CoherentGuestCache} forgets a guest whenever the
 * storage writes that guest, and clears everything when something else may have written.
 * Entries are frozen, since every reader gets the same objects.
 */
export class GuestCache {
  readonly #entries = new Map<string, { value: GuestWithAttributes; bytes: number }>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw new TypeError('the cache size must be a positive whole number of bytes');
    }
    this.#maxBytes = maxBytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Estimated bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  get(id: string): GuestWithAttributes | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    // Most recently used goes last; eviction takes from the front.
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry.value;
  }

  set(value: GuestWithAttributes): GuestWithAttributes {
    let bytes = ENTRY_OVERHEAD + value.guest.id.length * 2;
    for (const a of value.attributes) {
      Object.freeze(a);
      bytes += ATTRIBUTE_OVERHEAD + (a.name.length + a.value.length) * 2;
    }
    Object.freeze(value.attributes);
    Object.freeze(value.guest);
    Object.freeze(value);
    // A profile too large to share the cache with others is not worth keeping.
    if (bytes > this.#maxBytes / 4) return value;
    this.delete(value.guest.id);
    this.#entries.set(value.guest.id, { value, bytes });
    this.#bytes += bytes;
    for (const [id, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(id);
      this.#bytes -= entry.bytes;
    }
    return value;
  }

  delete(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }
}

/** What SQLite tells about changes to the database, read through the storage's connection. */
export interface ChangeProbe {
  /** `PRAGMA data_version`: moves when another connection (or process) commits to the file. */
  dataVersion(): number;
  /** `total_changes()`: rows changed through this connection since it opened. */
  totalChanges(): number;
}

/**
 * The read cache kept exact. A write forgets the guest it touches, inside its transaction,
 * before anyone can read. Before each group of reads, and before each write transaction, SQLite
 * is asked whether anything changed the file behind the storage's back: another connection
 * (`data_version` moved) or this connection outside the storage's own writes (`total_changes()`
 * moved past what the storage last accounted for); either drops the whole cache.
 */
export class CoherentGuestCache {
  readonly #cache: GuestCache;
  readonly #probe: ChangeProbe;
  /** What SQLite said when the cache was last known to be exact. */
  #seenDataVersion = -1;
  #seenChanges = -1;

  constructor(maxBytes: number, probe: ChangeProbe) {
    this.#cache = new GuestCache(maxBytes);
    this.#probe = probe;
  }

  /** Makes the cache exact before a group of reads uses it. */
  sync(): void {
    const version = this.#probe.dataVersion();
    const changes = this.#probe.totalChanges();
    if (version !== this.#seenDataVersion || changes !== this.#seenChanges) {
      this.#cache.clear();
      this.#seenDataVersion = version;
      this.#seenChanges = changes;
    }
  }

  /**
   * Before a write transaction: anything written behind the storage's back is detected now, so
   * that it cannot be absorbed into the baseline {@link afterWrite} sets.
   */
  beforeWrite(): void {
    if (this.#cache.size > 0) this.sync();
  }

  /** After a write transaction: the storage's own changes, whose guests it forgot, are the baseline. */
  afterWrite(): void {
    this.#seenChanges = this.#probe.totalChanges();
  }

  get(id: string): GuestWithAttributes | undefined {
    return this.#cache.get(id);
  }

  set(value: GuestWithAttributes): GuestWithAttributes {
    return this.#cache.set(value);
  }

  forget(id: string): void {
    this.#cache.delete(id);
  }

  clear(): void {
    this.#cache.clear();
  }
}
