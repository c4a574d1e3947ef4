// What every part of a run shares: the settings, a scratch folder, the load generator, and the
// child processes to stop when the run ends (normally, on a signal, or at its time limit).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@guestmode/testkit';
import { type Env, Loader, type ServerProcess, startServer } from './proc.js';
import type { Settings } from './settings.js';

/** One line of progress on stderr (stdout carries the results). */
export const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface BenchContext {
  /** The repository's root folder. */
  readonly root: string;
  readonly settings: Settings;
  /** A scratch folder for database files, removed by `close()`. */
  readonly work: string;
  readonly loader: Loader;
  /** Starts `node <args>` on a free port and waits until `readyPath` answers. */
  serve(args: string[], env: Env, readyPath: string): Promise<ServerProcess>;
  stop(server: ServerProcess): Promise<void>;
  /** Runs `task` at `close()`, after the servers and the load generator have stopped. */
  onClose(task: () => Promise<unknown>): void;
  /** Stops everything the run started and removes the scratch folder; safe to call twice. */
  close(): Promise<void>;
}

export function openContext(root: string, settings: Settings): BenchContext {
  const work = mkdtempSync(join(tmpdir(), 'guestmode-bench-'));
  const loader = new Loader();
  const servers = new Set<ServerProcess>();
  const closers: (() => Promise<unknown>)[] = [];
  return {
    root,
    settings,
    work,
    loader,
    async serve(args, env, readyPath) {
      const server = await startServer({ args, env, port: await freePort(), readyPath });
      servers.add(server);
      return server;
    },
    async stop(server) {
      await server.stop();
      servers.delete(server);
    },
    onClose(task) {
      closers.push(task);
    },
    async close() {
      for (const server of servers) await server.stop(5000).catch(() => undefined);
      servers.clear();
      loader.close();
      for (const task of closers.splice(0).reverse()) await task().catch(() => undefined);
      rmSync(work, { recursive: true, force: true });
    },
  };
}
