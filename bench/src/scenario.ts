// A load scenario as data, and the one runner that measures every scenario the same way:
// prepare, warm up, count rows, send an exact number of requests, count again, check.
import type { BenchContext } from './context.js';
import { log, sleep } from './context.js';
import type { LoadJob, LoadResult } from './load.js';
import { CONNECTIONS, limitFor } from './settings.js';
import type { RowCheck, ScenarioResult } from './types.js';

export type Headers = Readonly<Record<string, string>>;

/** The requests a scenario sends; the runner decides how many and over how many connections. */
export type LoadSpec = Pick<
  LoadJob,
  'url' | 'urls' | 'method' | 'path' | 'headers' | 'body' | 'rotate'
>;

/** What `prepare` hands the runner. */
export interface Prepared<S> {
  readonly load: LoadSpec;
  /**
   * A warm-up of exactly `amount` requests with its own header sets, for requests that must not
   * repeat (one merge per guest). Without it the warm-up sends `load` for the warm-up seconds.
   */
  readonly warmUp?: { readonly rotate: readonly Headers[]; readonly amount: number };
  /** At most this many measured requests (rotated header sets that must not repeat). */
  readonly maxAmount?: number;
  /** Whatever `check` needs to know from the preparation. */
  readonly state: S;
}

/** What `check` judges. `since` is the epoch ms at which the measured run started. */
export interface Outcome<C, S> {
  readonly load: LoadResult;
  readonly before: C;
  readonly after: C;
  readonly state: S;
  readonly since: number;
}

/**
 * When the runner takes the "before" count: before the warm-up (a load that must change nothing,
 * warm-up included), right after it (an exact-count warm-up has no requests in flight), or once
 * the counts stop moving (a duration-bounded warm-up ends with requests still in flight).
 */
export type Baseline = 'before-warm-up' | 'after-warm-up' | 'settled';

export interface Scenario<C = unknown, S = unknown> {
  /** The table's scenario column: `create`, `read`, `hello-1`… */
  readonly name: string;
  /** The request in words, for the list under the table. */
  readonly request: string;
  /** Connections of the warm-up and the measured run (default 50). */
  readonly concurrency?: number;
  readonly baseline?: Baseline;
  /** Makes what the load needs (guests, tokens, sessions) and checks it answers as expected. */
  prepare(): Promise<Prepared<S>>;
  /** The row counts `check` compares; a scenario without a database leaves it out. */
  count?(): Promise<C>;
  /** Whether the rows prove that every 2xx did its work and nothing else changed. */
  check(outcome: Outcome<C, S>): RowCheck | Promise<RowCheck>;
}

/** Gives a scenario its types from its own functions (an array of scenarios holds any). */
export const defineScenario = <C, S>(scenario: Scenario<C, S>): Scenario<C, S> => scenario;

/** The system and database a group of scenarios runs against. */
export type Subject = Pick<ScenarioResult, 'system' | 'db'>;

export const signed = (n: number) => (n >= 0 ? `+${n}` : String(n));

/**
 * Row counts once they stop moving: a duration-bounded warm-up ends with requests still in
 * flight, which the server finishes after the load generator has stopped counting. On a busy
 * machine one answer can take seconds, so the counts must hold still for a whole second.
 */
export async function settled<T>(count: () => Promise<T>): Promise<T> {
  let last = JSON.stringify(await count());
  let still = 0;
  for (let i = 0; i < 80; i++) {
    await sleep(250);
    const now = await count();
    const text = JSON.stringify(now);
    still = text === last ? still + 1 : 0;
    if (still === 4) return now;
    last = text;
  }
  throw new Error('bench: row counts kept changing after the warm-up');
}

/** Runs the scenarios one after another; a failed scenario is a failed row, not a failed run. */
export async function runScenarios(
  ctx: BenchContext,
  subject: Subject,
  scenarios: readonly Scenario[],
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) results.push(await runScenario(ctx, subject, scenario));
  return results;
}

export async function runScenario<C, S>(
  ctx: BenchContext,
  subject: Subject,
  scenario: Scenario<C, S>,
): Promise<ScenarioResult> {
  const base = baseOf(subject, scenario);
  const { connections } = base;
  try {
    const prepared = await scenario.prepare();
    const count = async () => (scenario.count ? scenario.count() : (undefined as C));
    const baseline = scenario.baseline ?? 'after-warm-up';
    let before = baseline === 'before-warm-up' ? await count() : undefined;
    const amount = await warmUp(ctx, prepared, connections);
    if (baseline === 'settled') before = await settled(count);
    else if (baseline === 'after-warm-up') before = await count();
    const since = Date.now();
    const load = await ctx.loader.run(
      { ...prepared.load, connections, amount },
      limitFor(ctx.settings.seconds * 3),
    );
    const after = await count();
    const rows = await scenario.check({
      load,
      before: before as C,
      after,
      state: prepared.state,
      since,
    });
    return measured(base, load, rows);
  } catch (error) {
    return failed(base, error);
  }
}

/**
 * The warm-up (JIT, caches, connection pools); returns how many requests make about
 * `settings.seconds` at the rate it saw, so that rows before and after compare exactly.
 */
async function warmUp(
  ctx: BenchContext,
  prepared: Prepared<unknown>,
  connections: number,
): Promise<number> {
  const { settings, loader } = ctx;
  const warm = prepared.warmUp
    ? await loader.run(
        { ...prepared.load, ...prepared.warmUp, connections },
        limitFor(settings.seconds * 2),
      )
    : await loader.run(
        { ...prepared.load, connections, duration: settings.warmupSeconds },
        limitFor(settings.warmupSeconds),
      );
  const rate = warm.requests / Math.max(warm.seconds, 0.1);
  const amount = Math.round(rate * settings.seconds);
  const capped = prepared.maxAmount === undefined ? amount : Math.min(amount, prepared.maxAmount);
  return Math.max(connections * 2, capped);
}

type Base = Omit<ScenarioResult, 'load' | 'rows' | 'bytesPerResponse'>;

/** The columns of a scenario's row that do not depend on its run. */
export function baseOf(
  subject: Subject,
  scenario: Pick<Scenario, 'name' | 'request' | 'concurrency'>,
): Base {
  return {
    ...subject,
    scenario: scenario.name,
    request: scenario.request,
    connections: scenario.concurrency ?? CONNECTIONS,
  };
}

/** A scenario's row of the table; any non-2xx answer fails its row check. */
function measured(base: Base, load: LoadResult, rows: RowCheck): ScenarioResult {
  const clean = load.non2xx === 0 && load.errors === 0 && load.ok === load.requests;
  const result: ScenarioResult = {
    ...base,
    load,
    bytesPerResponse: load.requests > 0 ? Math.round(load.bytes / load.requests) : 0,
    rows: {
      passed: rows.passed && clean,
      detail: clean
        ? rows.detail
        : `${rows.detail}; non-2xx ${load.non2xx}, errors ${load.errors} (${JSON.stringify(load.statusCodes)})`,
    },
  };
  log(
    `${base.system} ${base.db} ${base.scenario}: ${Math.round(load.rps)} req/s, p50 ${load.p50} ms, p99 ${load.p99} ms, ${load.ok}/${load.requests} ok; rows ${result.rows.passed ? 'ok' : 'FAILED'}: ${result.rows.detail}`,
  );
  return result;
}

/** The row of a scenario that could not run: zeros, and the reason. */
export function failed(base: Base, error: unknown): ScenarioResult {
  const message = error instanceof Error ? error.message : String(error);
  log(`${base.system} ${base.db} ${base.scenario} FAILED: ${message}`);
  return {
    ...base,
    load: {
      requests: 0,
      seconds: 0,
      rps: 0,
      p50: 0,
      p90: 0,
      p99: 0,
      max: 0,
      ok: 0,
      non2xx: 0,
      errors: 0,
      timeouts: 0,
      statusCodes: {},
      bytes: 0,
    },
    bytesPerResponse: 0,
    rows: { passed: false, detail: `failed: ${message.split('\n')[0]}` },
    error: message,
  };
}
