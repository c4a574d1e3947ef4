import { Worker } from 'node:worker_threads';
import { loadSqliteDriver } from '../../sqlite-driver.js';

/**
 * The checkpointer's own thread: a second connection to the same file that copies the WAL back
 * into the database every `intervalMs`. PASSIVE never waits for, nor blocks, the main
 * connection's readers and writers. CommonJS source, run with `eval`, so the same code works from
 * `src/` under a TypeScript loader and from `dist/`.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const timer = setInterval(() => {
  try {
    checkpoint.get();
  } catch (error) {
    // Busy or a transient I/O error: the next round retries; the main connection's own
    // safety-net checkpoint bounds the WAL meanwhile.
  }
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Runs SQLite's WAL checkpoints on a worker thread instead of inside whichever commit crosses
 * the WAL threshold. An inline checkpoint copies up to a thousand pages and syncs the file on the
 * event loop, where every request waits for it; on the worker, none does.
 */
export class BackgroundCheckpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  #failed = false;

  private constructor(worker: Worker, onFailure: () => void) {
    this.#worker = worker;
    this.#exited = new Promise((resolve) => {
      worker.once('exit', () => resolve());
    });
    worker.on('error', () => {
      // The thread could not open the file or load the driver: checkpoints go back inline.
      this.#failed = true;
      onFailure();
    });
    // A storage that is never closed must not keep the process alive.
    worker.unref();
  }

  /**
   * Starts the thread; `null` when threads cannot be started here (the caller keeps inline
   * checkpoints). `onFailure` runs if the thread dies later.
   */
  static start(
    path: string,
    intervalMs: number,
    onFailure: () => void,
  ): BackgroundCheckpointer | null {
    try {
      const driver = loadSqliteDriver().path;
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { path, driver, intervalMs },
      });
      return new BackgroundCheckpointer(worker, onFailure);
    } catch {
      return null;
    }
  }

  /** Stops the thread after its connection is closed. */
  async close(): Promise<void> {
    // Referenced again while it winds down, or the process could exit before it does.
    this.#worker.ref();
    if (!this.#failed) this.#worker.postMessage('close');
    await this.#exited;
  }
}
