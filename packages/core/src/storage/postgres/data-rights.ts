import type pg from 'pg';
import type { GuestRow, MergeRecord, NewEvent, StoredAttribute, StoredUser } from '../types.js';
import { isUnavailable, wrap } from './driver-errors.js';
import { writeEvents } from './outbox.js';
import { q } from './schema.js';

/**
 * A user's data on request (export, erasure): rare, so plain queries on the pool rather than
 * named statements. The merge records deleted are added to the `purged_merged` counter, so the
 * funnel totals keep counting those merges.
 */
export async function readUser(pool: pg.Pool, userId: string): Promise<StoredUser> {
  const [attributes, merges] = await Promise.all([
    pool.query<{ name: string; value: string; updated_at: string }>(
      'SELECT name, value, updated_at FROM gm_attributes WHERE owner = $1 ORDER BY name',
      [`u:${userId}`],
    ),
    pool.query<{ id: string; merged_at: string; merge_result: string }>(
      'SELECT id, merged_at, merge_result FROM gm_guests WHERE merged_into = $1 ORDER BY merged_at, id',
      [userId],
    ),
  ]).catch(wrap);
  return {
    attributes: attributes.rows.map(
      (r): StoredAttribute => ({ name: r.name, value: r.value, updatedAt: Number(r.updated_at) }),
    ),
    merges: merges.rows.map(
      (r): MergeRecord => ({
        guestId: r.id,
        mergedAt: Number(r.merged_at),
        result: r.merge_result,
      }),
    ),
  };
}

export async function deleteUser(
  pool: pg.Pool,
  userId: string,
  event?: NewEvent,
): Promise<{ attributes: number; merges: number }> {
  const client = await pool.connect().catch(wrap);
  let broken = false;
  const markBroken = () => {
    broken = true;
  };
  client.on('error', markBroken);
  try {
    await client.query('BEGIN');
    try {
      const attributes = await client.query('DELETE FROM gm_attributes WHERE owner = $1', [
        `u:${userId}`,
      ]);
      const merges = await client.query('DELETE FROM gm_guests WHERE merged_into = $1', [userId]);
      const count = merges.rowCount ?? 0;
      if (count > 0) {
        await client.query(q.addCounter, [count, 'purged_merged']);
      }
      if (event) await writeEvents(client, [event]);
      await client.query('COMMIT');
      return { attributes: attributes.rowCount ?? 0, merges: count };
    } catch (error) {
      await client.query('ROLLBACK').catch(markBroken);
      throw error;
    }
  } catch (error) {
    broken ||= isUnavailable(error);
    wrap(error);
  } finally {
    client.off('error', markBroken);
    client.release(broken);
  }
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
