import type pg from 'pg';
import type { GuestRow, MergeRecord, NewEvent, StoredUser } from '../types.js';
import type { Connection } from './connection.js';
import { wrap } from './driver-errors.js';
import { writeEvents } from './outbox.js';
import { q, type RawAttribute, toAttribute } from './schema.js';

/**
 * A user's data on request (export, erasure): rare, so plain queries on the pool rather than
 * named statements. The merge records deleted are added to the `purged_merged` counter, so the
 * funnel totals keep counting those merges.
 */
export async function readUser(pool: pg.Pool, userId: string): Promise<StoredUser> {
  const [attributes, merges] = await Promise.all([
    pool.query<RawAttribute>(q.readAttributes, [`u:${userId}`]),
    pool.query<{ id: string; merged_at: string; merge_result: string }>(
      'SELECT id, merged_at, merge_result FROM gm_guests WHERE merged_into = $1 ORDER BY merged_at, id',
      [userId],
    ),
  ]).catch(wrap);
  return {
    attributes: attributes.rows.map(toAttribute),
    merges: merges.rows.map(
      (r): MergeRecord => ({
        guestId: r.id,
        mergedAt: Number(r.merged_at),
        result: r.merge_result,
      }),
    ),
  };
}

export function deleteUser(
  db: Connection,
  userId: string,
  event?: NewEvent,
): Promise<{ attributes: number; merges: number }> {
  return db.transaction(async (client) => {
    const attributes = await client.query(q.deleteOwner, [`u:${userId}`]);
    const merges = await client.query('DELETE FROM gm_guests WHERE merged_into = $1', [userId]);
    const count = merges.rowCount ?? 0;
    if (count > 0) await client.query(q.addCounter, [count, 'purged_merged']);
    if (event) await writeEvents(client, [event]);
    return { attributes: attributes.rowCount ?? 0, merges: count };
  });
}

/** A page of guests by id, for operators; never the secret hash. */
export async function listGuests(
  pool: pg.Pool,
  afterId: string,
  limit: number,
): Promise<Omit<GuestRow, 'secretHash' | 'mergeResult'>[]> {
  const { rows } = await pool
    .query<{
      id: string;
      created_at: string;
      expires_at: string;
      merged_into: string | null;
      merged_at: string | null;
    }>(
      'SELECT id, created_at, expires_at, merged_into, merged_at FROM gm_guests WHERE id > $1 ORDER BY id LIMIT $2',
      [afterId, limit],
    )
    .catch(wrap);
  return rows.map((r) => ({
    id: r.id,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    mergedInto: r.merged_into,
    mergedAt: r.merged_at === null ? null : Number(r.merged_at),
  }));
}
