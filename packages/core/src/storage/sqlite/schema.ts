import type Database from 'better-sqlite3';
import type { GuestRow, StoredAttribute } from '../types.js';
import { SQLITE_OUTBOX_MIGRATION } from './outbox.js';

/**
 * The SQLite schema, one step per version (see `../migrations.ts`). Times are epoch
 * milliseconds; `value` is the JSON text as received; `size` is its length in bytes, so that a
 * profile's size is a sum over one index range.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `CREATE TABLE gm_guests (
     id TEXT PRIMARY KEY,
     secret_hash BLOB NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     merged_into TEXT,
     merged_at INTEGER,
     merge_result TEXT
   ) WITHOUT ROWID;
   CREATE INDEX gm_guests_expires_at ON gm_guests (expires_at);
   CREATE TABLE gm_attributes (
     owner TEXT NOT NULL,
     name TEXT NOT NULL,
     value TEXT NOT NULL,
     size INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (owner, name)
   ) WITHOUT ROWID;
   CREATE TABLE gm_counters (
     name TEXT PRIMARY KEY,
     value INTEGER NOT NULL
   ) WITHOUT ROWID;
   INSERT INTO gm_counters (name, value) VALUES ('purged_expired', 0), ('purged_merged', 0);`,
  // Funnel totals are counters moved in the same transactions as the rows they count, so that
  // stats() reads a few rows instead of counting every guest on the event loop. Seeded from the
  // rows already there.
  `INSERT INTO gm_counters (name, value)
     SELECT 'created', (SELECT COUNT(*) FROM gm_guests)
       + (SELECT COALESCE(SUM(value), 0) FROM gm_counters WHERE name IN ('purged_expired', 'purged_merged'));
   INSERT INTO gm_counters (name, value)
     SELECT 'merged', (SELECT COUNT(*) FROM gm_guests WHERE merged_into IS NOT NULL)
       + (SELECT value FROM gm_counters WHERE name = 'purged_merged');
   INSERT INTO gm_counters (name, value) VALUES ('deleted', 0);`,
  // stats() counts the expired, unmerged guests: with merged_into in the index that count never
  // leaves it. The purge's range scan on expires_at uses the same index, so the old one goes.
  `CREATE INDEX gm_guests_expiry_state ON gm_guests (expires_at, merged_into);
   DROP INDEX gm_guests_expires_at;`,
  SQLITE_OUTBOX_MIGRATION,
  // A user's merged guests (data export, erasure) are found by merged_into, in merge order;
  // without this index each lookup scans every guest. Partial: unmerged guests are not in it.
  `CREATE INDEX gm_guests_merged_into ON gm_guests (merged_into, merged_at, id)
     WHERE merged_into IS NOT NULL;`,
];

export interface RawGuest {
  id: string;
  secret_hash: Buffer;
  created_at: number;
  expires_at: number;
  merged_into: string | null;
  merged_at: number | null;
  merge_result: string | null;
}

export interface GuestWithAttributeRow extends Omit<RawGuest, 'merge_result'> {
  name: string | null;
  value: string | null;
  updated_at: number | null;
}

export interface RawAttribute {
  name: string;
  value: string;
  updated_at: number;
}

export function toGuest(row: RawGuest): GuestRow {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    mergedInto: row.merged_into,
    mergedAt: row.merged_at,
    mergeResult: row.merge_result,
  };
}

export function toAttribute(row: RawAttribute): StoredAttribute {
  return { name: row.name, value: row.value, updatedAt: row.updated_at };
}

/** A prepared statement of the adapter. */
// An interface, not an alias: declaration files could not name the driver's own namespace.
export interface Statement extends Database.Statement<unknown[], unknown> {}

/** Every statement the adapter runs, prepared once after the schema is up to date. */
export function prepareStatements(db: Database.Database) {
  const prepare = (sql: string): Statement => db.prepare(sql);
  return {
    begin: prepare('BEGIN IMMEDIATE'),
    beginRead: prepare('BEGIN'),
    commit: prepare('COMMIT'),
    rollback: prepare('ROLLBACK'),
    savepoint: prepare('SAVEPOINT gm_write'),
    release: prepare('RELEASE gm_write'),
    rollbackTo: prepare('ROLLBACK TO gm_write'),
    dataVersion: prepare('PRAGMA data_version').pluck(),
    totalChanges: prepare('SELECT total_changes()').pluck(),
    insertGuest: prepare(
      'INSERT INTO gm_guests (id, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?)',
    ),
    getGuest: prepare('SELECT * FROM gm_guests WHERE id = ?'),
    guestWithAttributes: prepare(
      `SELECT g.id, g.secret_hash, g.created_at, g.expires_at, g.merged_into, g.merged_at,
              a.name, a.value, a.updated_at
       FROM gm_guests g LEFT JOIN gm_attributes a ON a.owner = 'g:' || g.id
       WHERE g.id = ? ORDER BY a.name`,
    ),
    extendGuest: prepare(
      'UPDATE gm_guests SET expires_at = ? WHERE id = ? AND merged_into IS NULL AND expires_at < ?',
    ),
    readAttributes: prepare(
      'SELECT name, value, updated_at FROM gm_attributes WHERE owner = ? ORDER BY name',
    ),
    profileSize: prepare(
      'SELECT COUNT(*) AS count, COALESCE(SUM(size), 0) AS bytes FROM gm_attributes WHERE owner = ? AND name <> ?',
    ),
    upsertAttribute: prepare(
      `INSERT INTO gm_attributes (owner, name, value, size, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (owner, name) DO UPDATE SET value = excluded.value, size = excluded.size, updated_at = excluded.updated_at`,
    ),
    deleteAttribute: prepare('DELETE FROM gm_attributes WHERE owner = ? AND name = ?'),
    deleteOwner: prepare('DELETE FROM gm_attributes WHERE owner = ?'),
    markMerged: prepare(
      'UPDATE gm_guests SET merged_into = ?, merged_at = ?, merge_result = ?, expires_at = MAX(expires_at, ?) WHERE id = ?',
    ),
    expiredBatch: prepare(
      'SELECT id, merged_into IS NOT NULL AS merged FROM gm_guests WHERE expires_at <= ? LIMIT ?',
    ),
    deleteGuest: prepare('DELETE FROM gm_guests WHERE id = ?'),
    deleteActiveGuest: prepare('DELETE FROM gm_guests WHERE id = ? AND merged_into IS NULL'),
    addCounter: prepare('UPDATE gm_counters SET value = value + ? WHERE name = ?'),
    counters: prepare('SELECT name, value FROM gm_counters'),
    // An index range over the expired rows only: few, as long as the purge runs.
    expiredUnpurged: prepare(
      'SELECT COUNT(*) AS n FROM gm_guests WHERE expires_at <= ? AND merged_into IS NULL',
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
