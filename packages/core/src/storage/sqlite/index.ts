/**
 * The SQLite adapter (`@guestmode/core/sqlite`): the embedded default. Its parts, each readable
 * alone: `schema.ts` (migrations and statements), `scheduler.ts` (the serial lock and the
 * turn batcher), `group-commit.ts` (writes of one turn in one transaction), `guest-cache.ts`
 * (the read cache and its coherence checks), `checkpointer.ts` (WAL checkpoints on a worker
 * thread) and `operations.ts` (the guest operations themselves).
 */
import { resolve as resolvePath } from 'node:path';
import type Database from 'better-sqlite3';
import { loadSqliteDriver } from '../../sqlite-driver.js';
import type { GuestStorage } from '../types.js';
import { BackgroundCheckpointer } from './checkpointer.js';
import { SqliteStorage } from './operations.js';

export interface SqliteStorageOptions {
  /**
   * A file path, `:memory:`, or an open `better-sqlite3` Database. Pass your app's own Database
   * to have merge rules move your tables in the same transaction as the guest.
   */
  readonly database: string | Database.Database;
  /**
   * SQLite's `PRAGMA synchronous`, with WAL. `normal` (default): durable across process
   * crashes, a power loss may drop the last commits. `full`: every commit is synced to disk.
   */
  readonly synchronous?: 'normal' | 'full';
  /**
   * Memory for the read cache of guests, in bytes (default 8 MiB), or `false` for none.
   *
   * A guest read (the credential check, `GET /v1/profile`) is answered from memory when the
   * guest has not changed since it was last read. The cache stays exact: the storage forgets a
   * guest in the same step as it writes it, and before each group of reads (those of one turn of
   * the event loop) it asks SQLite whether anything else wrote to the file (`PRAGMA
   * data_version`: another process, another connection) or through this connection outside the
   * storage (`total_changes()`); if so, the whole cache is dropped. The secret is still hashed
   * and compared on every request.
   */
  readonly readCache?: number | false;
  /**
   * Make WAL checkpoints on a worker thread with its own connection (default `true` when
   * `database` is a path). Otherwise SQLite makes them inside the commit that crosses its
   * threshold, on the event loop; with an app's own `Database`, its settings are left alone.
   */
  readonly backgroundCheckpoints?: boolean;
}

/** How often the background checkpointer copies the WAL back into the database. */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * With background checkpoints, the main connection still checkpoints by itself past this many
 * WAL pages (~40 MB): a bound on the WAL should the worker fall behind or die.
 */
const SAFETY_CHECKPOINT_PAGES = 10_000;
/** SQLite's own threshold, restored when the worker is gone. */
const INLINE_CHECKPOINT_PAGES = 1000;

/** Default memory of the read cache: a few thousand typical guests. */
const DEFAULT_READ_CACHE_BYTES = 8 * 2 ** 20;

/**
 * Opens (and migrates) a SQLite store: the embedded default.
 *
 * @example
 * ```ts
 * import { createGuestmode } from '@guestmode/core';
 * import { openSqliteStorage } from '@guestmode/core/sqlite';
 *
 * const guestmode = createGuestmode({ storage: await openSqliteStorage({ database: './data/guestmode.db' }) });
 * ```
 */
export async function openSqliteStorage(options: SqliteStorageOptions): Promise<GuestStorage> {
  const storage = new SqliteStorage(open(options));
  try {
    await storage.migrate();
  } catch (error) {
    // A file that cannot be migrated (not a database, read-only, a newer schema) keeps no thread
    // or handle open.
    await storage.close().catch(() => undefined);
    throw error;
  }
  return storage;
}

/**
 * Checks every option before the file is opened or the thread started, so that a bad option
 * leaves nothing open behind it; then opens the connection and sets it up.
 */
function open(options: SqliteStorageOptions) {
  const synchronous = options.synchronous ?? 'normal';
  if (synchronous !== 'normal' && synchronous !== 'full') {
    throw new TypeError('options.synchronous must be "normal" or "full"');
  }
  const readCacheBytes = options.readCache ?? DEFAULT_READ_CACHE_BYTES;
  if (readCacheBytes !== false && (!Number.isSafeInteger(readCacheBytes) || readCacheBytes <= 0)) {
    throw new TypeError('options.readCache must be a positive number of bytes or false');
  }
  const ownsDb = typeof options.database === 'string';
  const background = options.backgroundCheckpoints ?? ownsDb;
  if (typeof background !== 'boolean') {
    throw new TypeError('options.backgroundCheckpoints must be a boolean');
  }
  let db: Database.Database;
  if (typeof options.database === 'string') {
    db = new (loadSqliteDriver().Database)(options.database);
  } else if (options.database && typeof options.database.prepare === 'function') {
    db = options.database;
  } else {
    throw new TypeError('options.database must be a path or a better-sqlite3 Database');
  }
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
  // Several processes may share the file (CLI purge beside the server): wait, don't fail.
  db.pragma('busy_timeout = 5000');
  let checkpointer: BackgroundCheckpointer | null = null;
  if (background && !db.memory && db.name !== '') {
    const inline = () => {
      if (db.open) db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
    };
    db.pragma(`wal_autocheckpoint = ${SAFETY_CHECKPOINT_PAGES}`);
    checkpointer = BackgroundCheckpointer.start(
      resolvePath(db.name),
      CHECKPOINT_INTERVAL_MS,
      inline,
    );
    if (checkpointer === null) inline();
  }
  return { db, ownsDb, readCacheBytes, checkpointer };
}
