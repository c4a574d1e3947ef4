import { GuestmodeError } from '@guestmode/core';
import type { RateLimitConfig } from './config.js';

/** Above this many tracked addresses, finished windows are swept before adding another. */
const SWEEP_THRESHOLD = 10_000;

/**
 * A fixed-window counter per client address, in memory. Guest creation is the one write
 * anybody can make without a credential, so it is the one that needs a limit (B6). In memory is
 * enough for one instance; several instances each apply the limit, which still bounds abuse.
 */
export class RateLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  constructor(config: RateLimitConfig, now: () => number = Date.now) {
    this.#max = config.max;
    this.#windowMs = config.windowMs;
    this.#now = now;
  }

  /** Counts one guest creation for `address`; throws `429 rate_limited` past the limit. */
  take(address: string): void {
    const now = this.#now();
    let window = this.#windows.get(address);
    if (!window || window.resetAt <= now) {
      if (!window && this.#windows.size >= SWEEP_THRESHOLD) this.#sweep(now);
      window = { count: 0, resetAt: now + this.#windowMs };
      this.#windows.set(address, window);
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

  #sweep(now: number): void {
    for (const [address, window] of this.#windows) {
      if (window.resetAt <= now) this.#windows.delete(address);
    }
  }
}
