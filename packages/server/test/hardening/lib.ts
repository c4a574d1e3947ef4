// Shared pieces of the hardening suites: the run mode, figures for docs/security.md,
// a plain HTTP client, the error-shape and no-leak checks, and the real `guestmode serve` as a
// child process (for SIGKILL and for measuring the server's own memory).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, type TestIssuer, waitFor } from '@guestmode/testkit';

/**
 * `short` inside `npm test`; `ci` for `npm run test:hardening` (the CI short mode: a longer
 * soak); `long` for `npm run test:hardening:long` (10-minute soak, more fuzz runs and load).
 */
export type Mode = 'short' | 'ci' | 'long';

export const MODE: Mode = ((): Mode => {
  const value = process.env.GUESTMODE_HARDENING ?? 'short';
  if (value === 'short' || value === 'ci' || value === 'long') return value;
  throw new TypeError(`GUESTMODE_HARDENING must be short, ci or long, not ${value}`);
})();

/** A size for the current mode; `ci` defaults to `short`. */
export function bySize<T>(sizes: { short: T; ci?: T; long: T }): T {
  if (MODE === 'long') return sizes.long;
  if (MODE === 'ci') return sizes.ci ?? sizes.short;
  return sizes.short;
}

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const PROBE = fileURLToPath(new URL('./memory-probe.ts', import.meta.url));

/** Deterministic PRNG (mulberry32), so a failing run can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const seedFromEnv = (): number =>
  Number(process.env.GUESTMODE_HARDENING_SEED ?? Math.floor(Math.random() * 2 ** 31));

/**
 * Records the figures of one suite: printed as a test diagnostic, and appended as a JSON line to
 * `GUESTMODE_HARDENING_REPORT` when set (the long run's figures go into docs/security.md).
 */
export function report(
  t: { diagnostic(message: string): void },
  suite: string,
  figures: Record<string, unknown>,
): void {
  const line = JSON.stringify({ suite, mode: MODE, ...figures });
  t.diagnostic(line);
  const file = process.env.GUESTMODE_HARDENING_REPORT;
  if (file) appendFileSync(file, `${line}\n`);
}

export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

export interface CallOptions {
  headers?: Record<string, string>;
  json?: unknown;
  raw?: string | Uint8Array;
  timeoutMs?: number;
}

/** One request; JSON bodies are parsed. Network failures throw (callers decide what they mean). */
export async function call<T = unknown>(
  base: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Uint8Array | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  } else if (options.raw !== undefined) {
    body = options.raw;
  }
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  const parsed = type.startsWith('application/json') && text !== '' ? JSON.parse(text) : text;
  return { status: res.status, headers: res.headers, text, body: parsed as T };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** What must never appear in an answer: stack frames, source paths, SQL, driver names. */
const LEAK =
  /\n\s+at |\bat [^\s]+ \(|node_modules|\/work\/|\.ts:\d+|SQLITE_|syntax error at|relation "gm_|better-sqlite3|\bpg\b.*pool|ECONNREFUSED/i;

/** Asserts that `text` carries no internals (unless the client itself sent that text). */
export function assertNoLeak(text: string, sent = ''): void {
  const found = LEAK.exec(text);
  if (found && !sent.includes(found[0])) {
    assert.fail(`answer leaks internals (${JSON.stringify(found[0])}): ${text.slice(0, 300)}`);
  }
}

/** Asserts `{"error":{"code":string,"message":string}}` and nothing else at the top level. */
export function assertErrorShape(answer: { status: number; text: string }, sent = ''): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    assert.fail(`error answer ${answer.status} is not JSON: ${answer.text.slice(0, 200)}`);
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } }).error;
  assert.ok(error, `no "error" object in ${answer.text.slice(0, 200)}`);
  assert.equal(typeof error.code, 'string', answer.text);
  assert.match(error.code as string, /^[a-z_]+$/, answer.text);
  assert.equal(typeof error.message, 'string', answer.text);
  assertNoLeak(answer.text, sent);
  return error.code as string;
}

/** Asserts a refusal with this status and code, in the one error shape. */
export function assertRefused(answer: Answer, status: number, code: string, what = ''): void {
  assert.equal(
    answer.status,
    status,
    `${what}: expected ${status} ${code}, got ${answer.status} ${answer.text}`,
  );
  assert.equal(assertErrorShape(answer), code, `${what}: ${answer.text}`);
}

export interface ChildService {
  readonly base: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Everything the service wrote to stderr (errors are logged there). */
  stderr(): string;
  /** The server process's own memory (after a full GC when `memoryProbe` is on). */
  memory(): Promise<{ rss: number; heapUsed: number }>;
  /** SIGKILL: no shutdown hooks, no flush, nothing. */
  kill(): Promise<void>;
  /** SIGTERM and wait (graceful shutdown). */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** `sqlite:<path>` or `postgres://…` */
  readonly databaseUrl: string;
  readonly issuer: TestIssuer;
  readonly mergeRules: Record<string, string>;
  /** Default: a free port. Restarts reuse the port so clients keep their base URL. */
  readonly port?: number;
  readonly env?: Record<string, string>;
  /** Loads memory-probe.ts with --expose-gc so {@link ChildService.memory} can ask for numbers. */
  readonly memoryProbe?: boolean;
  /** Where to write the merge rules file. */
  readonly rulesFile: string;
}

/**
 * Starts the real `guestmode serve` (src/cli.ts through tsx, as bin/guestmode.js does in a
 * checkout, but without the wrapper process, so a SIGKILL reaches the server itself).
 */
/** The admin token of every spawned service (opens `/metrics` and `/v1/stats`). */
export const SPAWNED_ADMIN_TOKEN = 'hardening-admin-token-0123456789';

export async function spawnService(options: SpawnOptions): Promise<ChildService> {
  const port = options.port ?? (await freePort());
  writeFileSync(options.rulesFile, JSON.stringify(options.mergeRules));
  const args = ['--conditions=source', '--import', 'tsx'];
  if (options.memoryProbe) args.push('--expose-gc', '--import', PROBE);
  const child = spawn(process.execPath, [...args, CLI, 'serve'], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      GUESTMODE_DATABASE_URL: options.databaseUrl,
      GUESTMODE_OIDC_ISSUER: options.issuer.issuer,
      GUESTMODE_OIDC_AUDIENCE: options.issuer.audience,
      GUESTMODE_MERGE_RULES: options.rulesFile,
      GUESTMODE_RATE_LIMIT: 'off',
      GUESTMODE_PURGE_INTERVAL: 'off',
      GUESTMODE_LOG_LEVEL: 'error',
      GUESTMODE_ADMIN_TOKEN: SPAWNED_ADMIN_TOKEN,
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe', ...(options.memoryProbe ? (['ipc'] as const) : [])],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-200_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`guestmode serve exited: ${stderr}`);
        return (await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) })).ok;
      },
      { timeoutMs: 60_000, intervalMs: 100, message: 'guestmode serve did not become healthy' },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    base,
    port,
    process: child,
    stderr: () => stderr,
    memory() {
      return new Promise((resolve, reject) => {
        if (!options.memoryProbe) {
          reject(new Error('spawnService: memoryProbe is off'));
          return;
        }
        const timer = setTimeout(() => reject(new Error('memory probe did not answer')), 10_000);
        child.once('message', (message) => {
          clearTimeout(timer);
          resolve(message as { rss: number; heapUsed: number });
        });
        child.send('memory');
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs `count` tasks with at most `concurrency` at once; stops taking new ones when told to. */
export async function pool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count && !stop()) {
      const index = next++;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export { assert };
