import type { GuestStats } from '@guestmode/core';

/** Upper bounds (seconds) of the merge latency histogram: a merge is one transaction. */
export const MERGE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

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
}

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

const round = (ms: number | null) => (ms === null ? null : Math.round(ms * 1000) / 1000);

/**
 * The service's counters: engine totals (cached), the merge latency histogram, refusals by
 * code, and the in-memory time series behind the dashboard. Rendered in the Prometheus text
 * format by hand: it is four metric families and needs no client library.
 */
export class Metrics {
  readonly #stats: () => Promise<GuestStats>;
  readonly #cacheMs: number;
  readonly #maxSamples: number;
  readonly #now: () => number;
  #cached: { at: number; value: Promise<GuestStats> } | undefined;
  readonly #rejected = new Map<string, number>();
  readonly #buckets = new Array<number>(MERGE_BUCKETS.length).fill(0);
  #mergeCount = 0;
  #mergeSum = 0;
  #pendingLatencies: number[] = [];
  readonly #samples: StatsSample[] = [];

  constructor(options: MetricsOptions) {
    this.#stats = options.stats;
    this.#cacheMs = options.statsCacheMs ?? 5000;
    this.#maxSamples = options.maxSamples ?? 360;
    this.#now = options.now ?? Date.now;
  }

  /** Counts a refused request by its error code. */
  rejected(code: string): void {
    this.#rejected.set(code, (this.#rejected.get(code) ?? 0) + 1);
  }

  /** Records the duration of one merge that did the work (replays are not merges). */
  observeMerge(ms: number): void {
    const seconds = ms / 1000;
    for (let i = 0; i < MERGE_BUCKETS.length; i++) {
      if (seconds <= MERGE_BUCKETS[i]!) this.#buckets[i]!++;
    }
    this.#mergeCount++;
    this.#mergeSum += seconds;
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
  async render(): Promise<string> {
    const s = await this.stats();
    const lines: string[] = [
      ...sample('guestmode_guests_created_total', 'counter', 'Guests created.', s.created),
      ...sample('guestmode_guests_active', 'gauge', 'Guests neither merged nor expired.', s.active),
      ...sample(
        'guestmode_guests_merged_total',
        'counter',
        'Guests merged into a user (converted).',
        s.merged,
      ),
      ...sample(
        'guestmode_guests_expired_total',
        'counter',
        'Guests that expired without a merge and were purged.',
        s.expired,
      ),
      '# HELP guestmode_merge_duration_seconds Time to merge a guest into a user (this process).',
      '# TYPE guestmode_merge_duration_seconds histogram',
    ];
    MERGE_BUCKETS.forEach((le, i) => {
      lines.push(`guestmode_merge_duration_seconds_bucket{le="${le}"} ${this.#buckets[i]}`);
    });
    lines.push(
      `guestmode_merge_duration_seconds_bucket{le="+Inf"} ${this.#mergeCount}`,
      `guestmode_merge_duration_seconds_sum ${this.#mergeSum}`,
      `guestmode_merge_duration_seconds_count ${this.#mergeCount}`,
      '# HELP guestmode_rejected_requests_total Requests refused, by error code (this process).',
      '# TYPE guestmode_rejected_requests_total counter',
    );
    for (const [code, count] of [...this.#rejected].sort()) {
      lines.push(`guestmode_rejected_requests_total{code="${code}"} ${count}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** One metric with one value: its HELP and TYPE lines, then the value. */
function sample(name: string, type: 'counter' | 'gauge', help: string, value: number): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`];
}
