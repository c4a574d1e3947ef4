/**
 * One migration runner for every Guestmode database: the core adapters (SQLite, PostgreSQL) and
 * the local identity provider's store. A schema is a list of steps; step `i` (from 0) brings the
 * database to version `i + 1`. A table records each version with the time it ran, so a step runs
 * once per database whatever the number of processes that open it.
 *
 * Never edit a shipped step: append a new one, so databases already in use move forward.
 *
 * The runner loads no driver: it takes anything shaped like a `better-sqlite3` Database or a `pg`
 * client, so the drivers stay optional peer dependencies.
 *
 * @example
 * ```ts
 * import { migrateSqlite } from '@guestmode/core/migrations';
 * migrateSqlite(db, ['CREATE TABLE notes (id TEXT PRIMARY KEY)'], { table: 'app_migrations' });
 * ```
 */

/** The default table recording which versions ran. */
export const MIGRATIONS_TABLE = 'gm_migrations';

/**
 * The database was migrated by a newer release than the code opening it. Running on would mean
 * reading and writing a schema this code does not know, so it refuses; upgrade the code (or
 * restore a backup taken before the upgrade).
 */
export class SchemaTooNewError extends Error {
  override readonly name = 'SchemaTooNewError';
  /** The highest version recorded in the database. */
  readonly databaseVersion: number;
  /** The highest version this code knows. */
  readonly codeVersion: number;

  constructor(table: string, databaseVersion: number, codeVersion: number) {
    super(
      `The database schema is at version ${databaseVersion} (table ${table}), newer than the ` +
        `version ${codeVersion} this code knows; open it with a release at least as new as the ` +
        'one that migrated it.',
    );
    this.databaseVersion = databaseVersion;
    this.codeVersion = codeVersion;
  }
}

export interface MigrationOptions {
  /** The table recording the versions that ran. Default `gm_migrations`. */
  readonly table?: string;
}

export interface PostgresMigrationOptions extends MigrationOptions {
  /**
   * The key of the transaction-level advisory lock the run holds, so that several instances
   * starting at once apply each step exactly once.
   */
  readonly lockKey: number;
}

/** What the runner needs of a `better-sqlite3` Database. */
export interface SqliteMigrationTarget {
  exec(sql: string): unknown;
  prepare(sql: string): {
    get(...params: unknown[]): unknown;
    run(...params: unknown[]): unknown;
  };
}

/** What the runner needs of a `pg` client (a `PoolClient` or a `Client`, not a `Pool`). */
export interface PostgresMigrationClient {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function checkArguments(steps: readonly string[], options: MigrationOptions | undefined): string {
  if (!Array.isArray(steps) || steps.some((step) => typeof step !== 'string')) {
    throw new TypeError('steps must be an array of SQL strings');
  }
  const table = options?.table ?? MIGRATIONS_TABLE;
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
    throw new TypeError('options.table must be a plain SQL identifier');
  }
  return table;
}

function currentVersion(row: unknown): number {
  const value = (row as { v?: unknown } | undefined)?.v;
  return value === null || value === undefined ? 0 : Number(value);
}

/**
 * Brings a SQLite database up to `steps.length`, all pending steps in one `BEGIN IMMEDIATE`
 * transaction: it takes the write lock before reading the recorded version, so two processes
 * opening the file at once cannot both apply a step, and a failing step leaves the database as
 * it was.
 *
 * @returns the schema version after the run.
 * @throws SchemaTooNewError when the database records a version above `steps.length`.
 */
export function migrateSqlite(
  db: SqliteMigrationTarget,
  steps: readonly string[],
  options?: MigrationOptions,
): number {
  const table = checkArguments(steps, options);
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
    );
    const from = currentVersion(db.prepare(`SELECT MAX(version) AS v FROM ${table}`).get());
    if (from > steps.length) throw new SchemaTooNewError(table, from, steps.length);
    const record = db.prepare(`INSERT INTO ${table} (version, applied_at) VALUES (?, ?)`);
    for (let version = from + 1; version <= steps.length; version++) {
      db.exec(steps[version - 1]!);
      record.run(version, Date.now());
    }
    db.exec('COMMIT');
  } catch (error) {
    // SQLite may already have rolled back (a full disk does): there is then nothing to undo.
    try {
      db.exec('ROLLBACK');
    } catch {}
    throw error;
  }
  return steps.length;
}

/**
 * Brings a PostgreSQL database up to `steps.length` in one transaction on `client`, under a
 * transaction-level advisory lock (released by the COMMIT or ROLLBACK).
 *
 * @returns the schema version after the run.
 * @throws SchemaTooNewError when the database records a version above `steps.length`.
 */
export async function migratePostgres(
  client: PostgresMigrationClient,
  steps: readonly string[],
  options: PostgresMigrationOptions,
): Promise<number> {
  const table = checkArguments(steps, options);
  if (!Number.isSafeInteger(options.lockKey)) {
    throw new TypeError('options.lockKey must be an integer');
  }
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [options.lockKey]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table} (version integer PRIMARY KEY, applied_at bigint NOT NULL)`,
    );
    const { rows } = await client.query(`SELECT MAX(version) AS v FROM ${table}`);
    const from = currentVersion(rows[0]);
    if (from > steps.length) throw new SchemaTooNewError(table, from, steps.length);
    for (let version = from + 1; version <= steps.length; version++) {
      await client.query(steps[version - 1]!);
      await client.query(`INSERT INTO ${table} (version, applied_at) VALUES ($1, $2)`, [
        version,
        Date.now(),
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return steps.length;
}
