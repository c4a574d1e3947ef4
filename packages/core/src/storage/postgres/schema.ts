import type { GuestRow, StoredAttribute } from '../types.js';

/** The advisory lock every migration run holds (see `../migrations.ts`). */
export const MIGRATION_LOCK = 7_420_151;
/** The PostgreSQL schema, one step per version. */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `CREATE TABLE gm_guests (
     id text PRIMARY KEY,
     secret_hash bytea NOT NULL,
     created_at bigint NOT NULL,
     expires_at bigint NOT NULL,
     merged_into text,
     merged_at bigint,
     merge_result text
   );
   CREATE INDEX gm_guests_expires_at ON gm_guests (expires_at);
   CREATE TABLE gm_attributes (
     owner text NOT NULL,
     name text NOT NULL,
     value text NOT NULL,
     size integer NOT NULL,
     updated_at bigint NOT NULL,
     PRIMARY KEY (owner, name)
   );
   CREATE TABLE gm_counters (
     name text PRIMARY KEY,
     value bigint NOT NULL
   );
   INSERT INTO gm_counters (name, value) VALUES ('purged_expired', 0), ('purged_merged', 0);`,
  // Guests deleted on request leave no row; counted so that the funnel still adds up.
  `INSERT INTO gm_counters (name, value) VALUES ('deleted', 0);`,
];

export interface RawGuest {
  id: string;
  secret_hash: Buffer;
  created_at: string;
  expires_at: string;
  merged_into: string | null;
  merged_at: string | null;
  merge_result: string | null;
}

export interface RawAttribute {
  name: string;
  value: string;
  updated_at: string;
}

export function toGuest(row: RawGuest): GuestRow {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    mergedInto: row.merged_into,
    mergedAt: row.merged_at === null ? null : Number(row.merged_at),
    mergeResult: row.merge_result,
  };
}

export function toAttribute(row: RawAttribute): StoredAttribute {
  return { name: row.name, value: row.value, updatedAt: Number(row.updated_at) };
}

// Named statements are prepared once per connection by `pg` and reused afterwards.
export const q = {
  insertGuest:
    'INSERT INTO gm_guests (id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)',
  getGuest: 'SELECT * FROM gm_guests WHERE id = $1',
  lockGuest: 'SELECT * FROM gm_guests WHERE id = $1 FOR UPDATE',
  guestWithAttributes: `SELECT g.id, g.secret_hash, g.created_at, g.expires_at, g.merged_into,
       g.merged_at, a.name, a.value, a.updated_at AS attribute_updated_at
     FROM gm_guests g LEFT JOIN gm_attributes a ON a.owner = 'g:' || g.id
     WHERE g.id = $1 ORDER BY a.name`,
  extendGuest:
    'UPDATE gm_guests SET expires_at = $1 WHERE id = $2 AND merged_into IS NULL AND expires_at < $1',
  readAttributes:
    'SELECT name, value, updated_at FROM gm_attributes WHERE owner = $1 ORDER BY name',
  lockOwner: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
  profileSize:
    'SELECT COUNT(*)::int AS count, COALESCE(SUM(size), 0)::bigint AS bytes FROM gm_attributes WHERE owner = $1 AND name <> $2',
  upsertAttribute: `INSERT INTO gm_attributes (owner, name, value, size, updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (owner, name) DO UPDATE SET value = excluded.value, size = excluded.size, updated_at = excluded.updated_at`,
  deleteAttribute: 'DELETE FROM gm_attributes WHERE owner = $1 AND name = $2',
  deleteOwner: 'DELETE FROM gm_attributes WHERE owner = $1',
  markMerged:
    'UPDATE gm_guests SET merged_into = $1, merged_at = $2, merge_result = $3, expires_at = GREATEST(expires_at, $4) WHERE id = $5',
  purgeBatch: `WITH batch AS (
       SELECT id, merged_into IS NOT NULL AS merged FROM gm_guests
       WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED
     ), attributes AS (
       DELETE FROM gm_attributes a USING batch b WHERE a.owner = 'g:' || b.id
     ), guests AS (
       DELETE FROM gm_guests g USING batch b WHERE g.id = b.id RETURNING b.merged
     )
     SELECT COUNT(*)::int AS total, (COUNT(*) FILTER (WHERE merged))::int AS merged FROM guests`,
  deleteActiveGuest: 'DELETE FROM gm_guests WHERE id = $1 AND merged_into IS NULL',
  addCounter: 'UPDATE gm_counters SET value = value + $1 WHERE name = $2',
  counters: 'SELECT name, value FROM gm_counters',
  guestCounts: `SELECT COUNT(*)::bigint AS total,
       (COUNT(*) FILTER (WHERE merged_into IS NOT NULL))::bigint AS merged,
       (COUNT(*) FILTER (WHERE merged_into IS NULL AND expires_at > $1))::bigint AS active,
       (COUNT(*) FILTER (WHERE merged_into IS NULL AND expires_at <= $1))::bigint AS expired
     FROM gm_guests`,
} as const;

export type QueryName = keyof typeof q;
