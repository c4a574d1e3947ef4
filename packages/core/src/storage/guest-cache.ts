import type { GuestRow, StoredAttribute } from './types.js';

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
 * It knows nothing about coherence: the storage that owns it forgets a guest whenever it writes
 * that guest, and clears everything when something else may have written (see sqlite.ts).
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
