// `npm run bench` (issue 7): Guestmode side by side with the machine's HTTP ceiling and with
// Better Auth's anonymous plugin, on SQLite and PostgreSQL, plus scale figures. One run, one
// scenario after another, one load generator (autocannon in its own process), 127.0.0.1 only.
//
//   npm run bench                 full run (about 10 minutes)
//   npm run bench -- --quick      every scenario for about a second, small scale numbers
//   npm run bench -- --profile    only Guestmode create, read and merge on SQLite, under --cpu-prof
//   npm run bench -- --only guestmode-sqlite,scale
//                                 the ceiling and the named parts only (for work on one path; the
//                                 results are written as <timestamp>-partial, never as latest)
//
// Results: a Markdown table on stdout, bench/results/<timestamp>.{md,json} and latest.{md,json}.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, type PostgresServer, startPostgres, startTestIssuer } from '@guestmode/testkit';
import Database from 'better-sqlite3';
import pg from 'pg';
import { type BenchDb, type GuestmodeRows, openPostgresDb, openSqliteDb } from './src/db.js';
import {
  cartOf,
  createAnonymousSessions,
  createGuests,
  getJson,
  pool,
  postJson,
  TYPICAL_CART,
} from './src/fixtures.js';
import type { LoadJob, LoadResult } from './src/load.js';
import { type Env, Loader, memoryOf, type ServerProcess, startServer } from './src/proc.js';
import { summariseProfile } from './src/profile.js';
import { buildRelease, type Release } from './src/release.js';
import { renderMarkdown, targetsOf } from './src/report.js';
import type { BenchReport, RowCheck, ScaleResult, ScenarioResult } from './src/types.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'bench/results') },
    only: { type: 'string' },
  },
});
const PARTS = [
  'guestmode-sqlite',
  'guestmode-postgres',
  'better-auth-sqlite',
  'better-auth-postgres',
  'scale',
] as const;
type Part = (typeof PARTS)[number];
const only = flags.only?.split(',').map((x) => x.trim());
for (const part of only ?? []) {
  if (!(PARTS as readonly string[]).includes(part)) {
    throw new TypeError(`bench: --only takes a list of ${PARTS.join(', ')}; not "${part}"`);
  }
}
/** Whether this run includes `part` (every part unless `--only` names some). */
const runs = (part: Part) => only === undefined || (only as string[]).includes(part);
const quick = flags.quick === true;
const CONNECTIONS = 50;
const settings = quick
  ? {
      warmupSeconds: 0.5,
      seconds: 1.5,
      readPool: 200,
      mergePool: 500,
      baSessions: 50,
      scaleGuests: 10_000,
      pgScaleGuests: 10_000,
      liveGuests: 200,
      purgeIntervalSeconds: 2,
      purgeReadRate: 500,
      merge1000Runs: 2,
    }
  : {
      warmupSeconds: 3,
      seconds: 10,
      readPool: 5_000,
      // Under --profile the guests' creation is in the merge profile too: keep it small.
      mergePool: flags.profile ? 4_000 : 16_000,
      baSessions: 1_000,
      scaleGuests: 1_000_000,
      pgScaleGuests: 200_000,
      liveGuests: 2_000,
      purgeIntervalSeconds: 8,
      purgeReadRate: 1_000,
      merge1000Runs: 5,
    };
const MERGE_RULES = { cart: 'sum-by-key' };
const AUDIENCE = 'https://api.bench.local';

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(join(tmpdir(), 'guestmode-bench-'));
const loader = new Loader();
const servers = new Set<ServerProcess>();
let postgres: PostgresServer | undefined;
const startedAt = new Date();
const loadBefore = loadavg()[0]!;

async function cleanup(): Promise<void> {
  for (const server of servers) await server.stop(5000).catch(() => undefined);
  loader.close();
  await postgres?.stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    cleanup().finally(() => process.exit(130));
  });
}

async function serve(args: string[], env: Env, readyPath: string): Promise<ServerProcess> {
  const server = await startServer({ args, env, port: await freePort(), readyPath });
  servers.add(server);
  return server;
}
async function stop(server: ServerProcess): Promise<void> {
  await server.stop();
  servers.delete(server);
}

/** A load job's hard time limit: generous, but a hung server cannot hang the bench. */
const limitFor = (seconds: number) => Math.max(30_000, seconds * 4_000 + 20_000);

/**
 * Warm-up for `settings.warmupSeconds`, then exactly round(rate × seconds) requests (so rows
 * before/after can be compared exactly), bounded by `maxAmount`.
 */
async function measure(
  job: Omit<LoadJob, 'duration' | 'amount' | 'connections'>,
  options: { maxAmount?: number } = {},
): Promise<{ result: LoadResult }> {
  const amount = await warmUp(job, options.maxAmount);
  const result = await loader.run(
    { ...job, connections: CONNECTIONS, amount },
    limitFor(settings.seconds * 3),
  );
  return { result };
}

/**
 * Runs the job for `settings.warmupSeconds` (JIT, caches, connection pools) and returns how many
 * requests make about `settings.seconds` at the rate it saw.
 */
async function warmUp(job: Omit<LoadJob, 'connections'>, maxAmount?: number): Promise<number> {
  const warmup = await loader.run(
    { ...job, connections: CONNECTIONS, duration: settings.warmupSeconds },
    limitFor(settings.warmupSeconds),
  );
  const rate = warmup.requests / Math.max(warmup.seconds, 0.1);
  const amount = Math.max(CONNECTIONS * 2, Math.round(rate * settings.seconds));
  return maxAmount === undefined ? amount : Math.min(amount, maxAmount);
}

function failed(
  base: Omit<ScenarioResult, 'load' | 'rows' | 'bytesPerResponse'>,
  error: unknown,
): ScenarioResult {
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

function scenario(
  base: Omit<ScenarioResult, 'load' | 'rows' | 'bytesPerResponse'>,
  load: LoadResult,
  rows: RowCheck,
): ScenarioResult {
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

/**
 * Row counts once they stop moving: a duration-bounded warm-up ends with requests still in
 * flight, which the server finishes after the load generator has stopped counting.
 */
async function settled<T>(count: () => Promise<T>): Promise<T> {
  let last = JSON.stringify(await count());
  for (let i = 0; i < 40; i++) {
    await sleep(250);
    const now = await count();
    const text = JSON.stringify(now);
    if (text === last) return now;
    last = text;
  }
  throw new Error('bench: row counts kept changing after the warm-up');
}

const delta = (before: GuestmodeRows, after: GuestmodeRows) => ({
  guests: after.guests - before.guests,
  merged: after.mergedGuests - before.mergedGuests,
  attributes: after.attributes - before.attributes,
  guestAttributes: after.guestAttributes - before.guestAttributes,
  userAttributes: after.userAttributes - before.userAttributes,
});
const signed = (n: number) => (n >= 0 ? `+${n}` : String(n));

// ---------------------------------------------------------------------------------------------

/**
 * The ceiling, measured three times in a run (first, after Guestmode on SQLite, last): on a
 * shared machine one measurement can land in a busy minute; the ratios use the median.
 */
async function ceiling(round: number): Promise<ScenarioResult> {
  const base = {
    system: 'ceiling',
    db: '-',
    scenario: `hello-${round}`,
    request: `GET / (Fastify 5 hello world JSON), round ${round} of 3`,
    connections: CONNECTIONS,
  } as const;
  try {
    const server = await serve([join(ROOT, 'bench/servers/ceiling.mjs')], process.env, '/');
    try {
      const { result } = await measure({ url: server.url, method: 'GET', path: '/' });
      return scenario(base, result, { passed: true, detail: 'no rows (no database)' });
    } finally {
      await stop(server);
    }
  } catch (error) {
    return failed(base, error);
  }
}

interface GuestmodeTarget {
  readonly db: 'sqlite' | 'postgres';
  readonly databaseUrl: string;
  readonly bench: BenchDb;
}

function guestmodeEnv(release: Release, issuer: string, databaseUrl: string, extra: Env = {}): Env {
  const rules = join(work, 'rules.json');
  writeFileSync(rules, JSON.stringify(MERGE_RULES));
  void release;
  return {
    PATH: process.env.PATH,
    HOST: '127.0.0.1',
    GUESTMODE_DATABASE_URL: databaseUrl,
    GUESTMODE_OIDC_ISSUER: issuer,
    GUESTMODE_OIDC_AUDIENCE: AUDIENCE,
    GUESTMODE_MERGE_RULES: rules,
    GUESTMODE_RATE_LIMIT: 'off',
    GUESTMODE_LOG_LEVEL: 'silent',
    ...extra,
  };
}

async function signTokens(
  issuer: Awaited<ReturnType<typeof startTestIssuer>>,
  userIds: readonly string[],
): Promise<string[]> {
  return pool(userIds.length, 32, (i) =>
    issuer.accessToken({ sub: userIds[i]!, expiresIn: 3 * 3600 }),
  );
}

async function guestmodeSuite(
  release: Release,
  issuer: Awaited<ReturnType<typeof startTestIssuer>>,
  target: GuestmodeTarget,
  only?: 'create' | 'read' | 'merge',
  nodeArgs: string[] = [],
): Promise<ScenarioResult[]> {
  const { db, bench } = target;
  const results: ScenarioResult[] = [];
  const server = await serve(
    [...nodeArgs, release.cli, 'serve'],
    guestmodeEnv(release, issuer.issuer, target.databaseUrl),
    '/healthz',
  );
  const base = (name: string, request: string) =>
    ({ system: 'guestmode', db, scenario: name, request, connections: CONNECTIONS }) as const;
  try {
    // create: a new guest's first write, one request (the lazy PUT).
    if (only === undefined || only === 'create') {
      const b = base('create', 'PUT /v1/profile/attributes/cart, no credential (lazy guest)');
      try {
        const job = {
          url: server.url,
          method: 'PUT',
          path: '/v1/profile/attributes/cart',
          body: TYPICAL_CART,
        } as const;
        const amount = await warmUp(job);
        const before = await settled(() => bench.guestmodeRows());
        const result = await loader.run(
          { ...job, connections: CONNECTIONS, amount },
          limitFor(settings.seconds * 3),
        );
        const d = delta(before, await bench.guestmodeRows());
        results.push(
          scenario(b, result, {
            passed: d.guests === result.ok && d.attributes === result.ok,
            detail: `guests ${signed(d.guests)}, attributes ${signed(d.attributes)} for ${result.ok} × 2xx`,
          }),
        );
      } catch (error) {
        results.push(failed(b, error));
      }
    }
    if (only === 'create') return results;

    // The guests that read and write: made through HTTP, each with a typical cart.
    const tokens =
      only === 'merge'
        ? []
        : await createGuests(server.url, settings.readPool, `{"cart":${TYPICAL_CART}}`);
    if (tokens.length > 0) {
      const profile = (await getJson(`${server.url}/v1/profile`, {
        authorization: `Bearer ${tokens[0]}`,
      })) as { attributes: { cart?: unknown[] } };
      if (profile.attributes.cart?.length !== 3) throw new Error('bench: a guest lost its cart');
    }
    const bearer = tokens.map((t) => ({ authorization: `Bearer ${t}` }));

    if (only === undefined || only === 'read') {
      const b = base('read', 'GET /v1/profile, Bearer guest token');
      try {
        const before = await bench.guestmodeRows();
        const { result } = await measure({
          url: server.url,
          method: 'GET',
          path: '/v1/profile',
          rotate: bearer,
        });
        const d = delta(before, await bench.guestmodeRows());
        const bytes = result.requests > 0 ? result.bytes / result.requests : 0;
        results.push(
          scenario(b, result, {
            passed: d.guests === 0 && d.attributes === 0 && bytes > 200,
            detail: `guests ${signed(d.guests)}, attributes ${signed(d.attributes)}; ${Math.round(bytes)} B per answer (profile with cart)`,
          }),
        );
      } catch (error) {
        results.push(failed(b, error));
      }
    }

    if (only === undefined) {
      const b = base('write', 'PUT /v1/profile/attributes/cart, Bearer guest token');
      try {
        const job = {
          url: server.url,
          method: 'PUT',
          path: '/v1/profile/attributes/cart',
          body: TYPICAL_CART,
          rotate: bearer,
        } as const;
        const amount = await warmUp(job);
        const before = await settled(() => bench.guestmodeRows());
        const since = Date.now();
        const result = await loader.run(
          { ...job, connections: CONNECTIONS, amount },
          limitFor(settings.seconds * 3),
        );
        const d = delta(before, await bench.guestmodeRows());
        const touched = await bench.attributesUpdatedSince(since);
        // Requests go to the guests in turn; the last request built per connection is not sent.
        const low = Math.min(tokens.length, result.ok) - CONNECTIONS;
        const high = Math.min(tokens.length, result.ok + CONNECTIONS);
        results.push(
          scenario(b, result, {
            passed: d.guests === 0 && d.attributes === 0 && touched >= low && touched <= high,
            detail: `guests ${signed(d.guests)}, attributes ${signed(d.attributes)}; ${touched} carts rewritten (${tokens.length} guests in turn, ${result.ok} × 2xx)`,
          }),
        );
      } catch (error) {
        results.push(failed(b, error));
      }
    }

    if (only === undefined || only === 'merge') {
      const b = base('merge', 'POST /v1/merge, ES384 access token + Guest-Token, 10 + 10 lines');
      try {
        // Guests with a 10-line cart (through HTTP), users with a 10-line cart sharing 5 ids
        // (inserted directly), and one access token per user: every merge is a first merge.
        const count = settings.mergePool;
        const guests = await createGuests(server.url, count, `{"cart":${cartOf(10)}}`);
        const userIds = guests.map((_, i) => `bench-user-${db}-${i}`);
        await bench.insertUserCarts(userIds, () => cartOf(10, 5));
        const accessTokens = await signTokens(issuer, userIds);
        const sets = guests.map((g, i) => ({
          authorization: `Bearer ${accessTokens[i]}`,
          'guest-token': g,
        }));
        const check = (await postJson(`${server.url}/v1/merge`, sets[0]!)) as {
          attributes: { cart: unknown[] };
        };
        if (check.attributes.cart.length !== 15) {
          throw new Error(`bench: merge gave ${check.attributes.cart.length} lines, not 15`);
        }
        // Each connection builds one request more than it sends, so each slice has spare sets.
        const warmAmount = Math.max(CONNECTIONS * 2, Math.floor(count / 8));
        const warmSets = sets.slice(1, 1 + warmAmount + CONNECTIONS);
        const measured = sets.slice(1 + warmSets.length);
        const job = { url: server.url, method: 'POST', path: '/v1/merge' } as const;
        const warm = await loader.run(
          {
            ...job,
            rotate: warmSets,
            connections: CONNECTIONS,
            amount: warmAmount,
          },
          limitFor(settings.seconds * 2),
        );
        const rate = warm.requests / Math.max(warm.seconds, 0.1);
        const amount = Math.max(
          CONNECTIONS * 2,
          Math.min(Math.round(rate * settings.seconds), measured.length - CONNECTIONS),
        );
        const before = await bench.guestmodeRows();
        const result = await loader.run(
          { ...job, rotate: measured, connections: CONNECTIONS, amount },
          limitFor(settings.seconds * 3),
        );
        const d = delta(before, await bench.guestmodeRows());
        results.push(
          scenario(b, result, {
            passed:
              d.merged === result.ok &&
              d.guestAttributes === -result.ok &&
              d.userAttributes === 0 &&
              d.guests === 0,
            detail: `guests merged ${signed(d.merged)}, guest carts ${signed(d.guestAttributes)}, user carts ${signed(d.userAttributes)} for ${result.ok} × 2xx`,
          }),
        );
      } catch (error) {
        results.push(failed(b, error));
      }
    }
    return results;
  } finally {
    await stop(server);
  }
}

async function betterAuthSuite(
  db: 'sqlite' | 'postgres',
  databaseUrl: string,
  bench: BenchDb,
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const server = await serve(
    [join(ROOT, 'bench/servers/better-auth.mjs')],
    { PATH: process.env.PATH, BENCH_DATABASE: databaseUrl },
    '/api/auth/ok',
  );
  const base = (name: string, request: string) =>
    ({ system: 'better-auth', db, scenario: name, request, connections: CONNECTIONS }) as const;
  try {
    {
      const b = base('create', 'POST /api/auth/sign-in/anonymous');
      try {
        const job = {
          url: server.url,
          method: 'POST',
          path: '/api/auth/sign-in/anonymous',
        } as const;
        const amount = await warmUp(job);
        const before = await settled(() => bench.betterAuthRows());
        const result = await loader.run(
          { ...job, connections: CONNECTIONS, amount },
          limitFor(settings.seconds * 3),
        );
        const after = await bench.betterAuthRows();
        const users = after.users - before.users;
        const sessions = after.sessions - before.sessions;
        results.push(
          scenario(b, result, {
            passed: users === result.ok && sessions === result.ok,
            detail: `users ${signed(users)}, sessions ${signed(sessions)} for ${result.ok} × 2xx`,
          }),
        );
      } catch (error) {
        results.push(failed(b, error));
      }
    }
    {
      const b = base('read', 'GET /api/auth/get-session, session cookie');
      try {
        const cookies = await createAnonymousSessions(server.url, settings.baSessions);
        const session = (await getJson(`${server.url}/api/auth/get-session`, {
          cookie: cookies[0]!,
        })) as { user?: { isAnonymous?: boolean } } | null;
        if (!session?.user?.isAnonymous) throw new Error('bench: get-session found no session');
        const before = await bench.betterAuthRows();
        const { result } = await measure({
          url: server.url,
          method: 'GET',
          path: '/api/auth/get-session',
          rotate: cookies.map((cookie) => ({ cookie })),
        });
        const after = await bench.betterAuthRows();
        const bytes = result.requests > 0 ? result.bytes / result.requests : 0;
        // An unknown session answers 200 `null`: the bytes per answer show real sessions.
        results.push(
          scenario(b, result, {
            passed:
              after.users === before.users && after.sessions === before.sessions && bytes > 300,
            detail: `users ${signed(after.users - before.users)}, sessions ${signed(after.sessions - before.sessions)}; ${Math.round(bytes)} B per answer (session + user)`,
          }),
        );
      } catch (error) {
        results.push(failed(b, error));
      }
    }
    return results;
  } finally {
    await stop(server);
  }
}

// ---------------------------------------------------------------------------------------------
// Scale (SQLite): a million expired guests, RSS, the purge under read load, a 1,000-line merge.

type CoreModule = typeof import('@guestmode/core');
type SqliteModule = typeof import('@guestmode/core/sqlite');
type PostgresModule = typeof import('@guestmode/core/postgres');

/**
 * Inserts `count` expired guests, each with the typical cart, in transactions of 50,000. Ids
 * come from the released core's own generator (at creation times a millisecond apart), so the
 * B-trees have the shape real guests give them.
 */
function insertExpiredGuests(
  path: string,
  count: number,
  newId: (createdAt: number) => string,
): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const guest = db.prepare(
    'INSERT INTO gm_guests (id, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?)',
  );
  const attribute = db.prepare(
    'INSERT INTO gm_attributes (owner, name, value, size, updated_at) VALUES (?, ?, ?, ?, ?)',
  );
  // The adapter may keep funnel counters in the same transaction as its rows; keep them true.
  const hasCreated = db.prepare("SELECT 1 FROM gm_counters WHERE name = 'created'").get();
  const bump = db.prepare("UPDATE gm_counters SET value = value + ? WHERE name = 'created'");
  const now = Date.now();
  const created = now - 40 * 86_400_000 - count;
  const expired = now - 10 * 86_400_000;
  const size = Buffer.byteLength(TYPICAL_CART);
  const hash = Buffer.alloc(32);
  const started = performance.now();
  for (let done = 0; done < count; ) {
    const n = Math.min(50_000, count - done);
    db.transaction(() => {
      for (let i = done; i < done + n; i++) {
        const id = newId(created + i);
        crypto.getRandomValues(hash);
        guest.run(id, hash, created + i, expired);
        attribute.run(`g:${id}`, 'cart', TYPICAL_CART, size, created + i);
      }
      if (hasCreated) bump.run(n);
    })();
    done += n;
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return (performance.now() - started) / 1000;
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

async function scaleSqlite(
  release: Release,
  issuer: Awaited<ReturnType<typeof startTestIssuer>>,
): Promise<ScaleResult> {
  const scale: ScaleResult = { guests: settings.scaleGuests };
  const path = join(work, 'scale.db');
  const url = `sqlite:${path}`;
  const { openSqliteStorage } = (await import(
    release.coreModule('storage/sqlite/index.js')
  )) as SqliteModule;
  const { createGuestmode } = (await import(release.coreModule('index.js'))) as CoreModule;
  await (await openSqliteStorage({ database: path })).close(); // the adapter's own schema

  log(`scale: inserting ${settings.scaleGuests} expired guests into SQLite`);
  const { generateCredential } = (await import(release.coreModule('credential.js'))) as {
    generateCredential: (now?: number) => { guestId: string };
  };
  scale.insertSeconds = insertExpiredGuests(
    path,
    settings.scaleGuests,
    (t) => generateCredential(t).guestId,
  );
  const bytes = statSync(path).size;
  scale.sqliteBytesPerGuest = Math.round(bytes / settings.scaleGuests);
  log(
    `scale: ${Math.round(scale.insertSeconds)} s, ${(bytes / 1e6).toFixed(0)} MB, ${scale.sqliteBytesPerGuest} B/guest`,
  );

  // stats() at this size: what /metrics and the dashboard's sampler cost per call.
  {
    const engine = createGuestmode({ storage: await openSqliteStorage({ database: path }) });
    const started = performance.now();
    await engine.stats();
    scale.statsMs = Math.round(performance.now() - started);
    await engine.close();
  }

  const bench = openSqliteDb(path);
  try {
    // Server A: RSS after creating and reading with a million guests in the file, and the
    // merge of a 1,000-line cart.
    const env = guestmodeEnv(release, issuer.issuer, url, {
      GUESTMODE_PURGE_INTERVAL: 'off',
      GUESTMODE_DASHBOARD: 'off',
    });
    const a = await serve([release.cli, 'serve'], env, '/healthz');
    let live: string[];
    try {
      scale.rssAfterStart = memoryOf(a.pid)?.rss;
      live = await createGuests(a.url, settings.liveGuests, `{"cart":${TYPICAL_CART}}`);
      const seconds = quick ? 1 : 5;
      await loader.run(
        {
          url: a.url,
          method: 'PUT',
          path: '/v1/profile/attributes/cart',
          body: TYPICAL_CART,
          connections: CONNECTIONS,
          duration: seconds,
        },
        limitFor(seconds),
      );
      await loader.run(
        {
          url: a.url,
          method: 'GET',
          path: '/v1/profile',
          rotate: live.map((t) => ({ authorization: `Bearer ${t}` })),
          connections: CONNECTIONS,
          duration: seconds,
        },
        limitFor(seconds),
      );
      const memory = memoryOf(a.pid);
      scale.rssAfterLoad = memory?.rss;
      scale.peakRss = memory?.peak;

      const lines = 1000;
      const guests = await createGuests(a.url, settings.merge1000Runs, `{"cart":${cartOf(lines)}}`);
      const userIds = guests.map((_, i) => `bench-big-${i}`);
      await bench.insertUserCarts(userIds, () => cartOf(lines, lines / 2));
      const accessTokens = await signTokens(issuer, userIds);
      scale.merge1000Ms = [];
      for (let i = 0; i < guests.length; i++) {
        const started = performance.now();
        const result = (await postJson(`${a.url}/v1/merge`, {
          authorization: `Bearer ${accessTokens[i]}`,
          'guest-token': guests[i]!,
        })) as { attributes: { cart: unknown[] } };
        scale.merge1000Ms.push(Math.round((performance.now() - started) * 10) / 10);
        scale.merge1000Lines = result.attributes.cart.length;
      }
    } finally {
      await stop(a);
    }

    // Server B: the background purge (the server's own timer, as `guestmode serve` runs it)
    // under a fixed-rate read load; idle latency before it starts, then during it.
    const before = await bench.guestmodeRows();
    const purgedBefore = await purgedCounter(bench);
    const b = await serve(
      [release.cli, 'serve'],
      {
        ...env,
        GUESTMODE_PURGE_INTERVAL: `${settings.purgeIntervalSeconds}s`,
      },
      '/healthz',
    );
    try {
      const load = loader.run(
        {
          url: b.url,
          method: 'GET',
          path: '/v1/profile',
          rotate: live.map((t) => ({ authorization: `Bearer ${t}` })),
          connections: 10,
          overallRate: settings.purgeReadRate,
          duration: 240,
          samples: true,
        },
        300_000,
      );
      const loadStarted = Date.now();
      let purgeStart: number | undefined;
      let purgeEnd: number | undefined;
      const deadline = Date.now() + 200_000;
      while (Date.now() < deadline) {
        await sleep(50);
        const purged = (await purgedCounter(bench)) - purgedBefore;
        if (purged > 0 && purgeStart === undefined) purgeStart = Date.now();
        if (purged >= settings.scaleGuests) {
          purgeEnd = Date.now();
          break;
        }
      }
      await sleep(1000);
      loader.stopCurrent();
      const result = await load;
      const samples = result.samples ?? [];
      const idle = samples
        .filter(([t]) => t >= loadStarted + 500 && t < (purgeStart ?? Number.POSITIVE_INFINITY))
        .map(([, ms]) => ms);
      const during = samples
        .filter(([t]) => purgeStart !== undefined && t >= purgeStart && t <= (purgeEnd ?? 0))
        .map(([, ms]) => ms);
      scale.readRate = settings.purgeReadRate;
      scale.readP50Idle = percentile(idle, 50);
      scale.readP99Idle = percentile(idle, 99);
      scale.readP50DuringPurge = percentile(during, 50);
      scale.readP99DuringPurge = percentile(during, 99);
      scale.readSamplesIdle = idle.length;
      scale.readSamplesDuringPurge = during.length;
      if (purgeStart !== undefined && purgeEnd !== undefined) {
        scale.purgeSeconds = (purgeEnd - purgeStart) / 1000;
      }
      const after = await bench.guestmodeRows();
      scale.purged = (await purgedCounter(bench)) - purgedBefore;
      const d = delta(before, after);
      scale.rows = {
        passed:
          scale.purged === settings.scaleGuests &&
          d.guests === -settings.scaleGuests &&
          d.attributes === -settings.scaleGuests &&
          result.non2xx === 0 &&
          result.errors === 0,
        detail: `guests ${signed(d.guests)}, attributes ${signed(d.attributes)}, purged counter ${signed(scale.purged)}; reads during the run: ${result.ok}/${result.requests} 2xx`,
      };
      log(
        `scale: purge ${scale.purgeSeconds ?? '?'} s; read p99 idle ${scale.readP99Idle} ms, during ${scale.readP99DuringPurge} ms`,
      );
    } finally {
      await stop(b);
    }
  } finally {
    await bench.close();
  }
  return scale;
}

async function purgedCounter(bench: BenchDb): Promise<number> {
  const rows = await bench.query<{ value: number }>({
    sqlite: "SELECT value FROM gm_counters WHERE name = 'purged_expired'",
    postgres: "SELECT value FROM gm_counters WHERE name = 'purged_expired'",
  });
  return Number(rows[0]?.value ?? 0);
}

/** Bytes per guest on PostgreSQL: bulk-inserted guests with the typical cart, then sizes. */
async function postgresBytesPerGuest(release: Release, url: string): Promise<number> {
  const { openPostgresStorage } = (await import(
    release.coreModule('storage/postgres/index.js')
  )) as PostgresModule;
  await (await openPostgresStorage({ database: url })).close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const n = settings.pgScaleGuests;
    const now = Date.now();
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO gm_guests (id, secret_hash, created_at, expires_at)
       SELECT substr(md5(i::text), 1, 22), sha256(i::text::bytea), $2, $3
       FROM generate_series(1, $1) AS i`,
      [n, now, now + 30 * 86_400_000],
    );
    await client.query(
      `INSERT INTO gm_attributes (owner, name, value, size, updated_at)
       SELECT 'g:' || substr(md5(i::text), 1, 22), 'cart', $2, octet_length($2), $3
       FROM generate_series(1, $1) AS i`,
      [n, TYPICAL_CART, now],
    );
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE gm_guests');
    await client.query('VACUUM ANALYZE gm_attributes');
    const { rows } = await client.query(
      `SELECT pg_total_relation_size('gm_guests') + pg_total_relation_size('gm_attributes') AS bytes`,
    );
    return Math.round(Number(rows[0].bytes) / n);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function postgresSettings(adminUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const names = ['fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers'];
    const { rows } = await client.query(
      'SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1) ORDER BY name',
      [names],
    );
    const version = (await client.query('SHOW server_version')).rows[0].server_version;
    return `PostgreSQL ${version}: ${rows.map((r) => `${r.name}=${r.setting}${r.unit ? ` ${r.unit}` : ''}`).join(', ')}`;
  } finally {
    await client.end();
  }
}

async function profileRun(release: Release, issuer: Awaited<ReturnType<typeof startTestIssuer>>) {
  const dir = join(flags.out!, 'profiles');
  mkdirSync(dir, { recursive: true });
  for (const only of ['create', 'read', 'merge'] as const) {
    const path = join(work, `profile-${only}.db`);
    const bench = openSqliteDb(path);
    const profileDir = join(dir, only);
    rmSync(profileDir, { recursive: true, force: true });
    try {
      // The adapter creates the tables when the server starts; the bench's connection waits.
      const results = await guestmodeSuite(
        release,
        issuer,
        { db: 'sqlite', databaseUrl: `sqlite:${path}`, bench },
        only,
        ['--cpu-prof', '--cpu-prof-dir', profileDir],
      );
      for (const r of results.filter((x) => x.scenario === only)) {
        log(`profile ${only}: ${Math.round(r.load.rps)} req/s under --cpu-prof`);
      }
    } finally {
      await bench.close();
    }
    process.stdout.write(`\n## Profile: ${only} (SQLite)\n\n${summariseProfile(profileDir)}\n`);
  }
}

async function main(): Promise<void> {
  log(`${quick ? 'quick' : 'full'} run; building the release build of core and server`);
  const release = buildRelease(ROOT);
  const issuer = await startTestIssuer({ alg: 'ES384', audience: AUDIENCE });
  try {
    if (flags.profile) {
      await profileRun(release, issuer);
      return;
    }
    log('starting PostgreSQL');
    postgres = await startPostgres({ durable: true });
    const pgDescription = await postgresSettings(postgres.url);
    log(pgDescription);
    const scenarios: ScenarioResult[] = [];

    scenarios.push(await ceiling(1));

    // Guestmode, SQLite then PostgreSQL.
    if (runs('guestmode-sqlite')) {
      const gmSqlite = join(work, 'guestmode.db');
      const sqliteBench = openSqliteDb(gmSqlite);
      scenarios.push(
        ...(await guestmodeSuite(release, issuer, {
          db: 'sqlite',
          databaseUrl: `sqlite:${gmSqlite}`,
          bench: sqliteBench,
        })),
      );
      await sqliteBench.close();
    }
    scenarios.push(await ceiling(2));

    if (runs('guestmode-postgres')) {
      const gmPgUrl = await createDatabase(postgres.url, 'guestmode_bench');
      const pgBench = openPostgresDb(gmPgUrl);
      scenarios.push(
        ...(await guestmodeSuite(release, issuer, {
          db: 'postgres',
          databaseUrl: gmPgUrl,
          bench: pgBench,
        })),
      );
      await pgBench.close();
    }

    // Better Auth, SQLite then PostgreSQL.
    if (runs('better-auth-sqlite')) {
      const baSqlite = join(work, 'better-auth.db');
      const baSqliteBench = openSqliteDb(baSqlite);
      scenarios.push(...(await betterAuthSuite('sqlite', `sqlite:${baSqlite}`, baSqliteBench)));
      await baSqliteBench.close();
    }
    if (runs('better-auth-postgres')) {
      const baPgUrl = await createDatabase(postgres.url, 'better_auth_bench');
      const baPgBench = openPostgresDb(baPgUrl);
      scenarios.push(...(await betterAuthSuite('postgres', baPgUrl, baPgBench)));
      await baPgBench.close();
    }
    scenarios.push(await ceiling(3));

    // Scale.
    let scale: ScaleResult = { rows: { passed: true, detail: 'not run (--only)' } };
    if (runs('scale')) {
      try {
        scale = await scaleSqlite(release, issuer);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`scale FAILED: ${message}`);
        scale = { error: message, rows: { passed: false, detail: `failed: ${message}` } };
      }
      try {
        log(`scale: ${settings.pgScaleGuests} guests into PostgreSQL for bytes per guest`);
        scale.postgresGuests = settings.pgScaleGuests;
        scale.postgresBytesPerGuest = await postgresBytesPerGuest(
          release,
          await createDatabase(postgres.url, 'guestmode_scale'),
        );
      } catch (error) {
        log(`scale (PostgreSQL) FAILED: ${error instanceof Error ? error.message : String(error)}`);
      }
    }

    const report: BenchReport = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      quick,
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model ?? 'unknown',
        memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        loadAverageBefore: Math.round(loadBefore * 100) / 100,
        loadAverageAfter: Math.round(loadavg()[0]! * 100) / 100,
      },
      settings: {
        loadGenerator: 'autocannon 8 (programmatic, its own process), pipelining 1',
        connections: CONNECTIONS,
        warmupSeconds: settings.warmupSeconds,
        secondsPerScenario: settings.seconds,
        guestmodeBuild: 'release (tsc emit of packages/core and packages/server, plain node)',
        guestmodeConfig:
          'guestmode serve: logger off, rate limit off, merge rules {"cart":"sum-by-key"}, other settings default',
        sqlite: 'WAL, synchronous=NORMAL (both Guestmode and Better Auth)',
        postgres: pgDescription,
        postgresPool: 'pg Pool of 10 (both)',
        betterAuth:
          'better-auth 1.7.25, anonymous plugin, toNodeHandler on node:http, rate limit off',
        scaleGuests: settings.scaleGuests,
      },
      scenarios,
      scale,
      targets: [],
      allRowChecksPassed: false,
    };
    const targets = targetsOf(report);
    const finished: BenchReport = {
      ...report,
      targets,
      allRowChecksPassed: scenarios.every((s) => s.rows.passed) && (scale.rows?.passed ?? false),
    };
    const markdown = renderMarkdown(finished);
    process.stdout.write(`${markdown}\n`);
    const out = flags.out!;
    mkdirSync(out, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    const name = `${stamp}${quick ? '-quick' : ''}${only ? '-partial' : ''}`;
    const json = `${JSON.stringify(finished, null, 2)}\n`;
    writeFileSync(join(out, `${name}.json`), json);
    writeFileSync(join(out, `${name}.md`), markdown);
    if (only === undefined) {
      writeFileSync(join(out, 'latest.json'), json);
      writeFileSync(join(out, 'latest.md'), markdown);
    }
    log(`wrote ${join(out, `${name}.md`)}${only === undefined ? ' and latest.{md,json}' : ''}`);
    if (!finished.allRowChecksPassed) process.exitCode = 1;
  } finally {
    await issuer.close();
  }
}

const timer = setTimeout(
  () => {
    log('the run exceeded its time limit');
    cleanup().finally(() => process.exit(1));
  },
  quick ? 600_000 : 1_800_000,
);
timer.unref();
try {
  await main();
} catch (error) {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
} finally {
  await cleanup();
}
