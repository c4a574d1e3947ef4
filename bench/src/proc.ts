// Child processes of the bench: the servers under test and the load generator.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FromLoader, LoadJob, LoadResult, ToLoader } from './load.js';

/** Environment variables of a child process. */
export type Env = Record<string, string | undefined>;

/** A server under test, in its own process. */
export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** SIGTERM (graceful), then SIGKILL after `graceMs`. Resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Last lines the process wrote (stdout and stderr), for error messages. */
  output(): string;
}

/**
 * Starts `node <args>` on 127.0.0.1:`port` and waits until `readyPath` answers (any status), for
 * at most `timeoutMs`.
 */
export async function startServer(options: {
  args: string[];
  env: Env;
  port: number;
  readyPath: string;
  timeoutMs?: number;
}): Promise<ServerProcess> {
  const child = spawn(process.execPath, options.args, {
    env: { ...options.env, PORT: String(options.port) } as unknown as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const url = `http://127.0.0.1:${options.port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: ServerProcess = {
    url,
    pid: child.pid ?? 0,
    child,
    output: () => log,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (child.exitCode !== null) {
      throw new Error(`bench: server exited with ${child.exitCode} before answering:\n${log}`);
    }
    try {
      await fetch(url + options.readyPath, { signal: AbortSignal.timeout(2000) });
      return server;
    } catch {
      await new Promise((r) => setTimeout(r, Math.min(50 * (attempt + 1), 250)));
    }
  }
  await server.stop(1000);
  throw new Error(`bench: server did not answer on ${url} in time:\n${log}`);
}

/** Resident set size of a process, from /proc (Linux): current and peak, in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
  } catch {
    return undefined;
  }
}

/** The load generator process (autocannon), reused for every run. */
export class Loader {
  #child: ChildProcess | undefined;
  #next = 1;

  #spawn(): ChildProcess {
    if (this.#child?.connected) return this.#child;
    const script = fileURLToPath(new URL('./load.ts', import.meta.url));
    this.#child = fork(script, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return this.#child;
  }

  /**
   * Runs one load job; kills the generator if it takes longer than `limitMs` (a hung server
   * must not hang the bench).
   */
  run(job: LoadJob, limitMs: number): Promise<LoadResult> {
    const child = this.#spawn();
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        child.kill('SIGKILL');
        this.#child = undefined;
        reject(new Error(`bench: load run exceeded ${Math.round(limitMs / 1000)} s`));
      }, limitMs);
      const onMessage = (message: FromLoader) => {
        if (message.id !== id) return;
        cleanup();
        if (message.type === 'result') resolve(message.result);
        else reject(new Error(`bench: load generator: ${message.message}`));
      };
      const onExit = () => {
        cleanup();
        this.#child = undefined;
        reject(new Error('bench: the load generator exited'));
      };
      const cleanup = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send({ type: 'run', id, job } satisfies ToLoader);
    });
  }

  /** Ends the current run early (it still resolves with what it measured). */
  stopCurrent(): void {
    this.#child?.send({ type: 'stop' } satisfies ToLoader);
  }

  close(): void {
    this.#child?.disconnect();
    this.#child = undefined;
  }
}
