// The scenario runner against a stand-in load generator: when it counts rows, how many requests
// it sends after the warm-up, and how a failure or a non-2xx answer shows in the row.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BenchContext } from '../src/context.ts';
import type { LoadJob, LoadResult } from '../src/load.ts';
import type { Loader } from '../src/proc.ts';
import { defineScenario, runScenario, type Scenario } from '../src/scenario.ts';
import { settingsFor } from '../src/settings.ts';

const SUBJECT = { system: 'guestmode', db: 'sqlite' } as const;

function loadResult(requests: number, seconds: number, non2xx = 0): LoadResult {
  return {
    requests,
    seconds,
    rps: (requests - non2xx) / seconds,
    p50: 1,
    p90: 2,
    p99: 3,
    max: 4,
    ok: requests - non2xx,
    non2xx,
    errors: 0,
    timeouts: 0,
    statusCodes: non2xx ? { 200: requests - non2xx, 500: non2xx } : { 200: requests },
    bytes: requests * 100,
  };
}

/** A context whose load generator answers from `answer` and logs every step in `events`. */
function fakeContext(events: string[], answer: (job: LoadJob) => LoadResult): BenchContext {
  const loader = {
    async run(job: LoadJob) {
      events.push(job.amount === undefined ? `warm ${job.duration}s` : `load ${job.amount}`);
      return answer(job);
    },
  } as unknown as Loader;
  return {
    root: '/',
    settings: settingsFor({ quick: true, profile: false }),
    work: '/',
    loader,
    serve: () => Promise.reject(new Error('no servers here')),
    stop: async () => undefined,
    onClose: () => undefined,
    close: async () => undefined,
  };
}

/** A scenario over a table that nothing writes to, logging each step; `fields` replace parts. */
function counting(events: string[], fields: Partial<Scenario<number, string>>) {
  const rows = 0;
  return defineScenario<number, string>({
    name: 'read',
    request: 'GET /thing',
    prepare: async () => {
      events.push('prepare');
      return { load: { url: 'http://127.0.0.1:1', method: 'GET', path: '/thing' }, state: 'ready' };
    },
    count: async () => {
      events.push(`count ${rows}`);
      return rows;
    },
    check: ({ load, before, after, state }) => {
      events.push('check');
      return {
        passed: state === 'ready' && after === before && load.ok > 0,
        detail: `rows +${after - before}`,
      };
    },
    ...fields,
  });
}

test('a read counts before its warm-up, then sends about seconds × the warm-up rate', async () => {
  const events: string[] = [];
  const ctx = fakeContext(events, (job) => loadResult(job.amount ?? 1000, job.amount ? 1.5 : 0.5));
  const scenario = counting(events, { baseline: 'before-warm-up' });
  const row = await runScenario(ctx, SUBJECT, scenario);
  // 1,000 requests in 0.5 s of warm-up: 3,000 make the quick run's 1.5 s.
  assert.deepEqual(events, ['prepare', 'count 0', 'warm 0.5s', 'load 3000', 'count 0', 'check']);
  assert.equal(row.scenario, 'read');
  assert.equal(row.connections, 50);
  assert.equal(row.bytesPerResponse, 100);
  assert.deepEqual(row.rows, { passed: true, detail: 'rows +0' });
});

test('a create counts once the rows stop moving after its warm-up', async () => {
  const events: string[] = [];
  let rows = 0;
  const ctx = fakeContext(events, (job) => {
    rows += job.amount ?? 400;
    return loadResult(job.amount ?? 400, job.amount ? 1.5 : 0.5);
  });
  const scenario = defineScenario({
    name: 'create',
    request: 'PUT /thing',
    baseline: 'settled',
    prepare: async () => ({
      load: { url: 'http://127.0.0.1:1', method: 'PUT', path: '/thing' },
      state: undefined,
    }),
    count: async () => {
      // A warm-up request the server finishes after the first count.
      if (events.length === 2) rows += 10;
      events.push(`count ${rows}`);
      return rows;
    },
    check: ({ load, before, after }) => ({
      passed: after - before === load.ok,
      detail: `rows +${after - before}`,
    }),
  });
  const row = await runScenario(ctx, SUBJECT, scenario);
  // The counts must hold still for a second (four polls) before the measured run.
  const still = Array.from({ length: 5 }, () => 'count 410');
  assert.deepEqual(events, ['warm 0.5s', 'count 400', ...still, 'load 1200', 'count 1610']);
  assert.deepEqual(row.rows, { passed: true, detail: 'rows +1200' });
});

test('an exact warm-up uses its own header sets and the measured run stays under maxAmount', async () => {
  const events: string[] = [];
  const jobs: LoadJob[] = [];
  const ctx = fakeContext(events, (job) => {
    jobs.push(job);
    return loadResult(job.amount!, 0.05);
  });
  const warmSets = [{ 'guest-token': 'warm' }];
  const measuredSets = [{ 'guest-token': 'measured' }];
  const row = await runScenario(
    ctx,
    SUBJECT,
    defineScenario({
      name: 'merge',
      request: 'POST /merge',
      prepare: async () => ({
        load: { url: 'http://127.0.0.1:1', method: 'POST', path: '/merge', rotate: measuredSets },
        warmUp: { rotate: warmSets, amount: 100 },
        maxAmount: 130,
        state: undefined,
      }),
      check: () => ({ passed: true, detail: 'no rows' }),
    }),
  );
  assert.deepEqual(events, ['load 100', 'load 130']);
  assert.equal(jobs[0]!.rotate, warmSets);
  assert.equal(jobs[1]!.rotate, measuredSets);
  assert.equal(jobs[1]!.connections, 50);
  assert.ok(row.rows.passed);
});

test('a failed preparation is a failed row with zeros, and a non-2xx answer fails the check', async () => {
  const events: string[] = [];
  const ctx = fakeContext(events, (job) => loadResult(job.amount ?? 200, 0.5, job.amount ? 1 : 0));
  const broken = await runScenario(
    ctx,
    SUBJECT,
    counting(events, {
      prepare: () => Promise.reject(new Error('bench: a guest lost its cart\nmore')),
    }),
  );
  assert.equal(broken.error, 'bench: a guest lost its cart\nmore');
  assert.deepEqual(broken.rows, { passed: false, detail: 'failed: bench: a guest lost its cart' });
  assert.equal(broken.load.requests, 0);
  assert.deepEqual(events, [], 'no load after a failed preparation');

  const answered = await runScenario(
    ctx,
    SUBJECT,
    counting(events, {
      check: () => ({ passed: true, detail: 'rows fine' }),
    }),
  );
  assert.equal(answered.rows.passed, false);
  assert.match(answered.rows.detail, /^rows fine; non-2xx 1, errors 0 \(\{"200":599,"500":1\}\)$/);
});
