import type { DatabaseConfig } from '../config.js';

/** A guest row as both stores hold it (times in epoch ms). */
export interface GuestRecord {
  readonly id: string;
  readonly secret_hash: Buffer;
  readonly created_at: number;
  readonly expires_at: number;
  readonly merged_into: string | null;
  readonly merged_at: number | null;
  readonly merge_result: string | null;
}

export interface AttributeRecord {
  readonly owner: string;
  readonly name: string;
  readonly value: string;
  readonly size: number;
  readonly updated_at: number;
}

export type AttributeKey = readonly [owner: string, name: string];

/**
 * One side of a copy: the rows of a store in key order, compared byte by byte (SQLite's BINARY,
 * PostgreSQL's "C" collation), so that both stores walk the same rows in the same order and a
 * copy can continue after the last key the target holds.
 */
export interface CopyStore {
  count(table: 'gm_guests' | 'gm_attributes'): Promise<number>;
  guestsAfter(id: string | null, limit: number): Promise<GuestRecord[]>;
  attributesAfter(key: AttributeKey | null, limit: number): Promise<AttributeRecord[]>;
  lastGuestId(): Promise<string | null>;
  lastAttributeKey(): Promise<AttributeKey | null>;
  /** Inserts the rows in one transaction. */
  insert(guests: readonly GuestRecord[], attributes: readonly AttributeRecord[]): Promise<void>;
  /** The funnel counters, by name (PostgreSQL's shards summed). */
  counters(): Promise<Map<string, number>>;
  /** Replaces every counter with the given totals. */
  setCounters(counters: ReadonlyMap<string, number>): Promise<void>;
  /** Deletes every guest, attribute and counter. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens a store for copying: first through its adapter, which creates or upgrades the schema,
 * then with a plain connection for the bulk statements.
 */
export async function openCopyStore(database: DatabaseConfig): Promise<CopyStore> {
  if (database.kind === 'postgres') {
    const { openPostgresStorage } = await import('@guestmode/core/postgres');
    await (await openPostgresStorage({ database: database.url })).close();
    const { openPostgresCopy } = await import('./postgres.js');
    return openPostgresCopy(database.url);
  }
  const { openSqliteStorage } = await import('@guestmode/core/sqlite');
  await (await openSqliteStorage({ database: database.path })).close();
  const { openSqliteCopy } = await import('./sqlite.js');
  return openSqliteCopy(database.path);
}
