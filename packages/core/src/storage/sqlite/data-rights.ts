import type BetterSqlite3 from 'better-sqlite3';
import type { GuestRow, MergeRecord, NewEvent, StoredAttribute, StoredUser } from '../types.js';
import { writeEvent } from './outbox.js';

/**
 * A user's data on request (export, erasure). Rare, so the statements are prepared per call
 * rather than kept with the hot ones; the caller runs these behind the gate like any write.
 */
export function readUser(db: BetterSqlite3.Database, userId: string): StoredUser {
  const attributes = (
    db
      .prepare('SELECT name, value, updated_at FROM gm_attributes WHERE owner = ? ORDER BY name')
      .all(`u:${userId}`) as { name: string; value: string; updated_at: number }[]
  ).map((r): StoredAttribute => ({ name: r.name, value: r.value, updatedAt: r.updated_at }));
  const merges = (
    db
      .prepare(
        'SELECT id, merged_at, merge_result FROM gm_guests WHERE merged_into = ? ORDER BY merged_at, id',
      )
      .all(userId) as { id: string; merged_at: number; merge_result: string }[]
  ).map((r): MergeRecord => ({ guestId: r.id, mergedAt: r.merged_at, result: r.merge_result }));
  return { attributes, merges };
}

/** Deletes the user's profile and merge records in one transaction; the counters stay. */
export function deleteUser(
  db: BetterSqlite3.Database,
  userId: string,
  event?: NewEvent,
): { attributes: number; merges: number } {
  return db
    .transaction(() => {
      const deleted = {
        attributes: db.prepare('DELETE FROM gm_attributes WHERE owner = ?').run(`u:${userId}`)
          .changes,
        merges: db.prepare('DELETE FROM gm_guests WHERE merged_into = ?').run(userId).changes,
      };
      if (event) writeEvent(db, event);
      return deleted;
    })
    .immediate();
}

/** A page of guests by id, for operators; never the secret hash. */
export function listGuests(
  db: BetterSqlite3.Database,
  afterId: string,
  limit: number,
): Omit<GuestRow, 'secretHash' | 'mergeResult'>[] {
  return (
    db
      .prepare(
        'SELECT id, created_at, expires_at, merged_into, merged_at FROM gm_guests WHERE id > ? ORDER BY id LIMIT ?',
      )
      .all(afterId, limit) as {
      id: string;
      created_at: number;
      expires_at: number;
      merged_into: string | null;
      merged_at: number | null;
    }[]
  ).map((r) => ({
    id: r.id,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    mergedInto: r.merged_into,
    mergedAt: r.merged_at,
  }));
}
