// The load generator: a child process of the bench (forked with IPC) that runs autocannon, so
// that the load and the server under test never share an event loop. One job at a time.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon, { type AutocannonRequest, type Instance } from 'autocannon';

/** One load run, sent by the parent. */
export interface LoadJob {
  readonly url: string;
  /**
   * Several servers behind one database: one autocannon per URL at once, connections and amount
   * split evenly, header sets taken in turn from one shared sequence (none repeats). `url` is
   * then unused.
   */
  readonly urls?: readonly string[];
  readonly method: 'GET' | 'PUT' | 'POST';
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /**
   * Header sets used one per request, in order (cycling when there are fewer sets than
   * requests): a guest token per request, or an access token and a guest token per merge.
   */
  readonly rotate?: readonly Readonly<Record<string, string>>[];
  readonly connections: number;
  /** Seconds; ignored when `amount` is set. */
  readonly duration?: number;
  /** Exactly this many requests (then the rows before/after must match exactly). */
  readonly amount?: number;
  /** Requests per second over all connections (a fixed, open-loop-ish rate). */
  readonly overallRate?: number;
  /** Keep [epoch ms, latency ms] of every response (for latency inside a time window). */
  readonly samples?: boolean;
}

/** What came back from one load run. */
export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodes: Record<string, number>;
  /** Response bytes received in all (headers and bodies). */
  readonly bytes: number;
  readonly samples?: [number, number][];
}

export type ToLoader = { type: 'run'; id: number; job: LoadJob } | { type: 'stop' };
export type FromLoader =
  | { type: 'result'; id: number; result: LoadResult }
  | { type: 'error'; id: number; message: string };

/** Runs a job: on its one URL, or on each of its `urls` at once (the results summed). */
async function run(job: LoadJob): Promise<LoadResult> {
  const shared = { next: 0 };
  const urls = job.urls ?? [job.url];
  if (urls.length === 1) return runOne({ ...job, url: urls[0]! }, shared);
  const share = (n: number, i: number) =>
    Math.floor(n / urls.length) + (i < n % urls.length ? 1 : 0);
  const parts = await Promise.all(
    urls.map((url, i) =>
      runOne(
        {
          ...job,
          url,
          connections: share(job.connections, i),
          ...(job.amount ? { amount: share(job.amount, i) } : {}),
        },
        shared,
      ),
    ),
  );
  return sumOf(parts);
}

/**
 * The results of loads that ran side by side: counts add up, the duration is the longest, and
 * each latency percentile is the higher of the parts' (a bound; histograms do not travel).
 */
function sumOf(parts: readonly LoadResult[]): LoadResult {
  const add = (f: (r: LoadResult) => number) => parts.reduce((n, r) => n + f(r), 0);
  const top = (f: (r: LoadResult) => number) => Math.max(...parts.map(f));
  const statusCodes: Record<string, number> = {};
  for (const part of parts) {
    for (const [code, n] of Object.entries(part.statusCodes)) {
      statusCodes[code] = (statusCodes[code] ?? 0) + n;
    }
  }
  const seconds = top((r) => r.seconds);
  const ok = add((r) => r.ok);
  const samples = parts.flatMap((r) => r.samples ?? []);
  return {
    requests: add((r) => r.requests),
    seconds,
    rps: seconds > 0 ? ok / seconds : 0,
    p50: top((r) => r.p50),
    p90: top((r) => r.p90),
    p99: top((r) => r.p99),
    max: top((r) => r.max),
    ok,
    non2xx: add((r) => r.non2xx),
    errors: add((r) => r.errors),
    timeouts: add((r) => r.timeouts),
    statusCodes,
    bytes: add((r) => r.bytes),
    ...(parts.some((r) => r.samples) ? { samples } : {}),
  };
}

const running = new Set<Instance>();

function runOne(job: LoadJob, shared: { next: number }): Promise<LoadResult> {
  const samples: [number, number][] = [];
  const rotate = job.rotate;
  const base: Record<string, string> = { ...job.headers };
  if (job.body !== undefined) base['content-type'] ??= 'application/json';
  const request: AutocannonRequest = {
    method: job.method,
    path: job.path,
    headers: base,
    ...(job.body === undefined ? {} : { body: job.body }),
    ...(rotate && rotate.length > 0
      ? {
          setupRequest: (req: AutocannonRequest) => {
            const set = rotate[shared.next++ % rotate.length]!;
            return { ...req, headers: { ...base, ...set } };
          },
        }
      : {}),
  };
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.url,
        connections: job.connections,
        pipelining: 1,
        timeout: 30,
        ...(job.amount ? { amount: job.amount } : { duration: job.duration ?? 1 }),
        ...(job.overallRate ? { overallRate: job.overallRate } : {}),
        requests: [request],
      },
      (error, result) => {
        running.delete(instance);
        if (error) {
          reject(error);
          return;
        }
        const statusCodes: Record<string, number> = {};
        for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) {
          statusCodes[code] = stat.count;
        }
        const ok = result['2xx'];
        const requests = ok + result.non2xx + result.errors;
        const seconds = result.duration;
        resolve({
          requests,
          seconds,
          rps: seconds > 0 ? ok / seconds : 0,
          p50: result.latency.p50,
          p90: result.latency.p90,
          p99: result.latency.p99,
          max: result.latency.max,
          ok,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statusCodes,
          bytes: result.throughput.total,
          ...(job.samples ? { samples } : {}),
        });
      },
    );
    if (job.samples) {
      instance.on('response', (_client, _status, _bytes, ms) => {
        samples.push([Date.now(), ms]);
      });
    }
    running.add(instance);
  });
}

/** Serves the parent's jobs over IPC, one at a time, until the parent goes away. */
export function serveLoadJobs(): void {
  process.on('message', (message: ToLoader) => {
    if (message.type === 'stop') {
      for (const instance of running) instance.stop();
      return;
    }
    run(message.job).then(
      (result) => process.send?.({ type: 'result', id: message.id, result } satisfies FromLoader),
      (error: unknown) =>
        process.send?.({
          type: 'error',
          id: message.id,
          message: error instanceof Error ? error.message : String(error),
        } satisfies FromLoader),
    );
  });
  // Exit with the parent: a bench killed midway must not leave a load generator behind.
  process.on('disconnect', () => process.exit(0));
}

// The bench forks this file as the load generator; imported, it only defines things.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  serveLoadJobs();
}
