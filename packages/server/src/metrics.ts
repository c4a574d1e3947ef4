import type { GuestStats } from '@guestmode/core';
import { Counter, Registry } from 'prom-client';

export { MERGE_BUCKETS } from '@guestmode/core';

/** One point of the dashboard's time series. */
export interface StatsSample {
  /** Epoch milliseconds. */
  readonly at: number;
  readonly created: number;
  readonly active: number;
  readonly merged: number;
  readonly expired: number;
  /** Merges completed since the previous sample. */
  readonly merges: number;
  /** Median and 95th percentile merge latency in that interval (ms); `null` without merges. */
  readonly mergeP50Ms: number | null;
  readonly mergeP95Ms: number | null;
}

export interface MetricsOptions {
  /** Reads the engine's counters (`guestmode.stats()`). */
  readonly stats: () => Promise<GuestStats>;
  /** How long a `stats()` answer is reused: it counts rows, so scrapes must not hammer it. */
  readonly statsCacheMs?: number;
  /** Points kept for the dashboard. Default 360 (an hour at 10 s). */
  readonly maxSamples?: number;
  readonly now?: () => number;
  /** The engine's registry (`guestmode.metrics.registry`): served with the service's own. */
  readonly registry?: Registry;
}

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

const round = (ms: number | null) => (ms === null ? null : Math.round(ms * 1000) / 1000);

/**
 * The service's metrics: the engine's (funnel totals, merge latency, purge, refusals: counted in
 * the engine, the same as in library mode) plus refused requests by code, rendered by
 * `prom-client`; and the in-memory time series behind the dashboard.
 */
export class Metrics {
  readonly #stats: () => Promise<GuestStats>;
  readonly #cacheMs: number;
  readonly #maxSamples: number;
  readonly #now: () => number;
  readonly #engine: Registry | undefined;
  readonly #own = new Registry();
  readonly #rejected: Counter<'code'>;
  #cached: { at: number; value: Promise<GuestStats> } | undefined;
  #pendingLatencies: number[] = [];
  readonly #samples: StatsSample[] = [];

  constructor(options: MetricsOptions) {
    this.#stats = options.stats;
    this.#cacheMs = options.statsCacheMs ?? 5000;
    this.#maxSamples = options.maxSamples ?? 360;
    this.#now = options.now ?? Date.now;
    this.#engine = options.registry;
    this.#rejected = new Counter({
      name: 'guestmode_rejected_requests_total',
      help: 'Requests refused, by error code (this process).',
      labelNames: ['code'],
      registers: [this.#own],
    });
  }

  /** Counts a refused request by its error code. */
  rejected(code: string): void {
    this.#rejected.inc({ code });
  }

  /**
   * Records the duration of one merge for the dashboard's percentiles (the Prometheus histogram
   * is the engine's).
   */
  observeMerge(ms: number): void {
    // Bounded: a burst between two samples cannot grow memory without limit.
    if (this.#pendingLatencies.length < 100_000) this.#pendingLatencies.push(ms);
  }

  /** The engine's totals, reused for `statsCacheMs`; a failed read is not cached. */
  stats(): Promise<GuestStats> {
    const now = this.#now();
    if (this.#cached && now - this.#cached.at < this.#cacheMs) return this.#cached.value;
    const value = this.#stats();
    const entry = { at: now, value };
    this.#cached = entry;
    value.catch(() => {
      if (this.#cached === entry) this.#cached = undefined;
    });
    return value;
  }

  /** Adds a point to the time series (called on a timer, and by tests). */
  async sample(): Promise<StatsSample> {
    const stats = await this.stats();
    const latencies = this.#pendingLatencies.sort((a, b) => a - b);
    this.#pendingLatencies = [];
    const point: StatsSample = {
      at: this.#now(),
      created: stats.created,
      active: stats.active,
      merged: stats.merged,
      expired: stats.expired,
      merges: latencies.length,
      mergeP50Ms: round(quantile(latencies, 0.5)),
      mergeP95Ms: round(quantile(latencies, 0.95)),
    };
    this.#samples.push(point);
    if (this.#samples.length > this.#maxSamples) this.#samples.shift();
    return point;
  }

  /** The time series, oldest first. */
  get samples(): readonly StatsSample[] {
    return this.#samples;
  }

  /** Everything in the Prometheus text exposition format 0.0.4. */
  render(): Promise<string> {
    const registries = this.#engine ? [this.#engine, this.#own] : [this.#own];
    return Registry.merge(registries).metrics();
  }
}
