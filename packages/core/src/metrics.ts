import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { GuestmodeError } from './errors.js';
import type { GuestStats } from './storage/types.js';

/** Upper bounds (seconds) of the merge latency histogram: a merge is one transaction. */
export const MERGE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** How long the database totals are reused between scrapes: `stats()` counts rows. */
const STATS_CACHE_MS = 5000;

/**
 * The engine's Prometheus metrics, in a `prom-client` registry of their own (merge it into the
 * app's with `Registry.merge`, or serve it with the adapters' metrics handlers). The funnel totals
 * come from the database, so every process on it reports the same; the merge latency, the purge
 * and the refusals are this process's. They are counted inside the engine, so a merge answered
 * by the service and one made in a web adapter's sign-in callback count the same way.
 */
export class GuestmodeMetrics {
  /** The registry holding every Guestmode metric of this engine. */
  readonly registry = new Registry();
  readonly #merge: Histogram;
  readonly #purged: Counter;
  readonly #refused: Counter<'code'>;
  readonly #usersDeleted: Counter;
  #processMetrics = false;

  constructor(stats: () => Promise<GuestStats>) {
    const registers = [this.registry];
    let cached: { at: number; value: Promise<GuestStats> } | undefined;
    const totals = (): Promise<GuestStats> => {
      const now = Date.now();
      if (cached && now - cached.at < STATS_CACHE_MS) return cached.value;
      const entry = { at: now, value: stats() };
      cached = entry;
      entry.value.catch(() => {
        if (cached === entry) cached = undefined;
      });
      return entry.value;
    };
    const fromDatabase = (key: keyof GuestStats) =>
      async function collect(this: Counter | Gauge) {
        const value = (await totals())[key];
        if (this instanceof Gauge) this.set(value);
        else {
          this.reset();
          this.inc(value);
        }
      };
    new Counter({
      name: 'guestmode_guests_created_total',
      help: 'Guests created (all processes on the database).',
      registers,
      collect: fromDatabase('created'),
    });
    new Gauge({
      name: 'guestmode_guests_active',
      help: 'Guests neither merged nor expired.',
      registers,
      collect: fromDatabase('active'),
    });
    new Counter({
      name: 'guestmode_guests_merged_total',
      help: 'Guests merged into a user (converted).',
      registers,
      collect: fromDatabase('merged'),
    });
    new Counter({
      name: 'guestmode_guests_expired_total',
      help: 'Guests that expired without a merge (purged or not yet).',
      registers,
      collect: fromDatabase('expired'),
    });
    this.#merge = new Histogram({
      name: 'guestmode_merge_duration_seconds',
      help: 'Time to merge a guest into a user (this process; replays are not merges).',
      buckets: MERGE_BUCKETS,
      registers,
    });
    this.#purged = new Counter({
      name: 'guestmode_guests_purged_total',
      help: 'Expired or retained guests deleted by the purge (this process).',
      registers,
    });
    this.#refused = new Counter({
      name: 'guestmode_refused_total',
      help: 'Guest creations and merges the engine refused, by error code (this process).',
      labelNames: ['code'],
      registers,
    });
    this.#usersDeleted = new Counter({
      name: 'guestmode_users_deleted_total',
      help: 'Users whose profile and merge records were deleted on request (this process).',
      registers,
    });
  }

  /** Records one merge that did the work. */
  observeMerge(seconds: number): void {
    this.#merge.observe(seconds);
  }

  purged(count: number): void {
    if (count > 0) this.#purged.inc(count);
  }

  userDeleted(): void {
    this.#usersDeleted.inc();
  }

  /** Counts a refusal (a `GuestmodeError` below 500) and hands the error back. */
  refused(error: unknown): unknown {
    if (error instanceof GuestmodeError && error.status < 500) {
      this.#refused.inc({ code: error.code });
    }
    return error;
  }

  /**
   * Adds prom-client's process metrics (event-loop lag, heap, GC, CPU, handles) to the registry,
   * once. The metrics handlers call it: the observers they start live as long as the process.
   */
  includeProcessMetrics(): void {
    if (this.#processMetrics) return;
    this.#processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  /** Everything in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
