import { GuestmodeError } from '@guestmode/core';
import type { RateLimitConfig } from './config.js';

/** The most client addresses tracked at once; memory stays bounded whatever the traffic. */
export const DEFAULT_MAX_CLIENTS = 10_000;

/**
 * A fixed-window counter per client key (an IPv4 address or an IPv6 /64), in memory. Guest
 * creation is the one write anybody can make without a credential, so it is the one that needs a
 * limit. In memory is enough for one instance; several instances each apply the limit, which
 * still bounds abuse.
 *
 * The map holds at most `maxClients` keys: when it is full, finished windows are dropped, and if
 * none has finished the oldest window goes (a flood of fresh addresses can then reset an earlier
 * client's count, but never grow the process).
 */
export class RateLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    config: RateLimitConfig,
    now: () => number = Date.now,
    maxClients = DEFAULT_MAX_CLIENTS,
  ) {
    if (!(Number.isSafeInteger(maxClients) && maxClients > 0)) {
      throw new TypeError('maxClients must be a positive whole number');
    }
    this.#max = config.max;
    this.#windowMs = config.windowMs;
    this.#maxClients = maxClients;
    this.#now = now;
  }

  /** How many client keys are tracked now. */
  get size(): number {
    return this.#windows.size;
  }

  /** Counts one guest creation for `key`; throws `429 rate_limited` past the limit. */
  take(key: string): void {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (!window || window.resetAt <= now) {
      this.#windows.delete(key);
      if (this.#windows.size >= this.#maxClients) this.#evict(now);
      window = { count: 0, resetAt: now + this.#windowMs };
      // Insertion order is window start order, so the first key is always the oldest window.
      this.#windows.set(key, window);
    }
    if (window.count >= this.#max) {
      const seconds = Math.max(1, Math.ceil((window.resetAt - now) / 1000));
      throw new GuestmodeError(
        'rate_limited',
        `Too many new guests from this address; retry in ${seconds} s.`,
        { headers: { 'retry-after': String(seconds) } },
      );
    }
    window.count++;
  }

  #evict(now: number): void {
    for (const [key, window] of this.#windows) {
      if (window.resetAt > now) break;
      this.#windows.delete(key);
    }
    while (this.#windows.size >= this.#maxClients) {
      this.#windows.delete(this.#windows.keys().next().value!);
    }
  }
}
