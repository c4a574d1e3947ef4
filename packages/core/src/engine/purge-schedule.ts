import type { CheckedPurgeOptions } from '../options.js';
import type { EngineContext } from './context.js';
import { purgeExpired } from './maintenance.js';

/** One scheduled purge: how many guests it deleted, or that another process had the turn. */
export interface PurgeRound {
  readonly deleted: number;
  /** True when another process on the same database was purging, so this one did nothing. */
  readonly skipped: boolean;
}

/**
 * The engine's own purge of expired guests, every `intervalMs`: started with the engine, stopped
 * by `close()`. A round never overlaps the previous one (a slow round delays the next), the timer
 * never keeps the process alive, and on a store several processes share only one of them purges
 * in a round (the others skip it), so N app servers do the work once, not N times.
 */
export class PurgeSchedule {
  readonly #ctx: EngineContext;
  readonly #options: CheckedPurgeOptions;
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(ctx: EngineContext, options: CheckedPurgeOptions) {
    this.#ctx = ctx;
    this.#options = options;
    if (options.intervalMs > 0) {
      this.#timer = setInterval(() => this.#tick(), options.intervalMs);
      this.#timer.unref();
    }
  }

  #tick(): void {
    if (this.#running) return;
    this.#running = purgeRound(this.#ctx, this.#abort.signal)
      .then(
        ({ deleted }) => {
          if (deleted > 0) this.#options.onPurged?.(deleted);
        },
        (error: unknown) => {
          if (this.#options.onError) this.#options.onError(error);
          else console.error(`guestmode: purge failed: ${(error as Error)?.message ?? error}`);
        },
      )
      .finally(() => {
        this.#running = undefined;
      });
  }

  /** Stops the timer, cuts a running round short after its current batch, and waits for it. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#abort.abort();
    await this.#running;
  }
}

/**
 * One purge of every expired guest, taking turns with the other processes of a shared store
 * (`storage.runExclusive`); a store one process owns just purges.
 */
export async function purgeRound(ctx: EngineContext, signal?: AbortSignal): Promise<PurgeRound> {
  const run = async () => {
    const purged = await purgeExpired(ctx, signal ? { signal } : {});
    ctx.metrics.purged(purged.deleted);
    await ctx.limiter?.sweep();
    return purged;
  };
  const { storage } = ctx;
  if (!storage.runExclusive) return { deleted: (await run()).deleted, skipped: false };
  const turn = await storage.runExclusive('purge', run);
  return turn.ran ? { deleted: turn.value.deleted, skipped: false } : { deleted: 0, skipped: true };
}
