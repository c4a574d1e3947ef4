import { GuestmodeError } from './errors.js';
import type { GuestCreationLimit } from './options.js';
import type { LimiterPool } from './storage/types.js';

/** The most client keys the in-memory limiter tracks at once: memory stays bounded. */
export const DEFAULT_MAX_CLIENTS = 10_000;

/**
 * Counts guest creations per client key (an IPv4 address or an IPv6 /64, see `rateLimitKey`).
 * Guest creation is the one write anybody can make without a credential, so it is the one that
 * needs a limit.
 */
export interface GuestCreationLimiter {
  /**
   * Counts one guest creation for `key`; past the limit throws `rate_limited` (429) with
   * `Retry-After` and the `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` fields.
   */
  take(key: string): Promise<void>;
  /** Forgets finished windows (the purge calls it). */
  sweep(): Promise<void>;
}

/** The refusal: one message and one set of headers whatever the store. */
export function rateLimited(limit: number, msBeforeReset: number): GuestmodeError {
  const seconds = String(Math.max(1, Math.ceil(msBeforeReset / 1000)));
  return new GuestmodeError(
    'rate_limited',
    `Too many new guests from this address; retry in ${seconds} s.`,
    {
      headers: {
        'retry-after': seconds,
        'ratelimit-limit': String(limit),
        'ratelimit-remaining': '0',
        'ratelimit-reset': seconds,
      },
    },
  );
}

/**
 * A fixed-window counter per client key, in memory: enough for one process. The map holds at most
 * `maxClients` keys: when it is full, finished windows are dropped, and if none has finished the
 * oldest window goes (a flood of fresh addresses can then reset an earlier client's count, but
 * never grow the process).
 */
export class MemoryCreationLimiter implements GuestCreationLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    limit: GuestCreationLimit,
    now: () => number = Date.now,
    maxClients = DEFAULT_MAX_CLIENTS,
  ) {
    if (!(Number.isSafeInteger(maxClients) && maxClients > 0)) {
      throw new TypeError('maxClients must be a positive whole number');
    }
    this.#max = limit.max;
    this.#windowMs = limit.windowMs;
    this.#maxClients = maxClients;
    this.#now = now;
  }

  /** How many client keys are tracked now. */
  get size(): number {
    return this.#windows.size;
  }

  /** {@link take} without the promise, for callers on a synchronous path. */
  takeNow(key: string): void {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (!window || window.resetAt <= now) {
      this.#windows.delete(key);
      if (this.#windows.size >= this.#maxClients) this.#evict(now);
      window = { count: 0, resetAt: now + this.#windowMs };
      // Insertion order is window start order, so the first key is always the oldest window.
      this.#windows.set(key, window);
    }
    if (window.count >= this.#max) throw rateLimited(this.#max, window.resetAt - now);
    window.count++;
  }

  async take(key: string): Promise<void> {
    this.takeNow(key);
  }

  async sweep(): Promise<void> {
    this.#evict(this.#now(), false);
  }

  #evict(now: number, makeRoom = true): void {
    for (const [key, window] of this.#windows) {
      if (window.resetAt > now) break;
      this.#windows.delete(key);
    }
    while (makeRoom && this.#windows.size >= this.#maxClients) {
      this.#windows.delete(this.#windows.keys().next().value!);
    }
  }
}

/** The table the shared limiter keeps its windows in (a step of the PostgreSQL schema). */
export const RATE_LIMIT_TABLE = 'gm_rate_limits';

/**
 * One limit for every process on a PostgreSQL database: `rate-limiter-flexible`'s PostgreSQL
 * store (one atomic upsert per creation), so N app servers together allow one budget instead of
 * N. Loaded on first use, so apps on SQLite never load it. Its table is a step of the store's
 * schema, so the migration has made it before the first guest is counted.
 */
export class PostgresCreationLimiter implements GuestCreationLimiter {
  readonly #limit: GuestCreationLimit;
  readonly #pool: LimiterPool;
  #ready: Promise<import('rate-limiter-flexible').RateLimiterPostgres> | undefined;

  constructor(limit: GuestCreationLimit, pool: LimiterPool) {
    this.#limit = limit;
    this.#pool = pool;
  }

  #store(): Promise<import('rate-limiter-flexible').RateLimiterPostgres> {
    this.#ready ??= import('rate-limiter-flexible').then(
      ({ RateLimiterPostgres }) =>
        new RateLimiterPostgres({
          storeClient: this.#pool,
          storeType: 'pool',
          tableName: RATE_LIMIT_TABLE,
          tableCreated: true,
          keyPrefix: 'guest',
          points: this.#limit.max,
          duration: this.#limit.windowMs / 1000,
          // The purge sweeps finished windows, so no timer outlives the engine.
          clearExpiredByTimeout: false,
        }),
    );
    return this.#ready;
  }

  async take(key: string): Promise<void> {
    let store: import('rate-limiter-flexible').RateLimiterPostgres;
    try {
      store = await this.#store();
      await store.consume(key);
    } catch (refusal) {
      if (refusal instanceof Error || typeof refusal !== 'object' || refusal === null) {
        throw new GuestmodeError('storage_unavailable', 'The database is unavailable.', {
          cause: refusal,
        });
      }
      throw rateLimited(this.#limit.max, (refusal as { msBeforeNext: number }).msBeforeNext);
    }
  }

  async sweep(): Promise<void> {
    if (this.#ready === undefined) return;
    const store = await this.#ready.catch(() => undefined);
    await (
      store as unknown as { clearExpired(before: number): Promise<void> } | undefined
    )?.clearExpired(Date.now());
  }
}

/**
 * The limiter for a store: shared through the database when the store offers a PostgreSQL pool
 * (`storage.sharedPool`), in memory otherwise.
 */
export function createGuestCreationLimiter(
  limit: GuestCreationLimit,
  options: { readonly sharedPool?: LimiterPool; readonly now?: () => number } = {},
): GuestCreationLimiter {
  if (options.sharedPool !== undefined)
    return new PostgresCreationLimiter(limit, options.sharedPool);
  return new MemoryCreationLimiter(limit, options.now);
}
