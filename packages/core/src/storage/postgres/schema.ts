import { RATE_LIMIT_TABLE } from '../../rate-limit.js';
import type { GuestRow, StoredAttribute } from '../types.js';
import { POSTGRES_OUTBOX_MIGRATION } from './outbox.js';

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
  // Funnel totals become counters moved in the same transactions as the rows they count (the
  // names are SQLite's), so that stats() reads a few rows instead of counting every guest. Each
  // counter is spread over shards (COUNTER_SHARDS says which one an update takes), so that
  // concurrent transactions (of one instance or of several) rarely wait for one another's row
  // lock. The table lock makes the seed exact while instances keep writing: they wait for this
  // commit.
  `LOCK TABLE gm_guests IN SHARE ROW EXCLUSIVE MODE;
   ALTER TABLE gm_counters ADD COLUMN shard smallint NOT NULL DEFAULT 0;
   ALTER TABLE gm_counters DROP CONSTRAINT gm_counters_pkey;
   ALTER TABLE gm_counters ADD PRIMARY KEY (name, shard);
   INSERT INTO gm_counters (name, value)
     SELECT 'created', (SELECT COUNT(*) FROM gm_guests)
       + (SELECT COALESCE(SUM(value), 0) FROM gm_counters
          WHERE name IN ('purged_expired', 'purged_merged', 'deleted'));
   INSERT INTO gm_counters (name, value)
     SELECT 'merged', (SELECT COUNT(*) FROM gm_guests WHERE merged_into IS NOT NULL)
       + (SELECT COALESCE(SUM(value), 0) FROM gm_counters WHERE name = 'purged_merged');
   CREATE INDEX gm_guests_expiry_state ON gm_guests (expires_at, merged_into);
   DROP INDEX gm_guests_expires_at;`,
  POSTGRES_OUTBOX_MIGRATION,
  // A user's merged guests (data export, erasure) are found by merged_into, in merge order;
  // without this index each lookup scans every guest. Partial: unmerged guests are not in it.
  `CREATE INDEX gm_guests_merged_into ON gm_guests (merged_into, merged_at, id)
     WHERE merged_into IS NOT NULL;`,
  // A quarter of each new page stays free for the next version of its rows: a cart rewritten
  // on its own page is a heap-only update, with no new primary-key entry and less WAL, and carts
  // are rewritten far more often than made. Pages written before keep their old fill.
  'ALTER TABLE gm_attributes SET (fillfactor = 75);',
  // The shared guest-creation limit's windows, in the layout rate-limiter-flexible's PostgreSQL
  // store reads. Created here, under the migration lock, because the store's own lazy
  // CREATE TABLE fails when several instances take their first guest at the same moment.
  // IF NOT EXISTS: the store itself created this table in databases used before this step.
  `CREATE TABLE IF NOT EXISTS ${RATE_LIMIT_TABLE} (
     key varchar(255) PRIMARY KEY,
     points integer NOT NULL DEFAULT 0,
     expire bigint
   );`,
];

/**
 * Shards per counter (see the third migration). A transaction updates the shard of its server
 * process (`pg_backend_pid()` modulo this): a backend runs one transaction at a time, and the
 * pids of a pool's connections are mostly consecutive, so concurrent transactions rarely share a
 * shard's row lock, which is held until commit. Any shard number counts; the sum reads them all.
 */
export const COUNTER_SHARDS = 64;

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
  return { ...toGuestState(row), mergeResult: row.merge_result };
}

/** A guest row without its stored merge result (which the group reads leave out). */
export function toGuestState(row: Omit<RawGuest, 'merge_result'>): Omit<GuestRow, 'mergeResult'> {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    mergedInto: row.merged_into,
    mergedAt: row.merged_at === null ? null : Number(row.merged_at),
  };
}

export function toAttribute(row: RawAttribute): StoredAttribute {
  return { name: row.name, value: row.value, updatedAt: Number(row.updated_at) };
}

// Named statements are prepared once per connection by `pg` and reused afterwards (unless
// prepared statements are switched off, for poolers in transaction mode). Arrays travel as one
// parameter each: a statement for a whole group costs what a statement for one row does.
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
  // The merge in three statements between BEGIN and COMMIT. The first locks the guest's row
  // and takes the user's advisory lock (two merges into one user must not both read the old
  // profile); in one statement the order of the two is the same for every merge, and no other
  // transaction takes both. The second reads both profiles, only once both locks are held: a
  // statement sees what was committed when it started, so a read in the locking statement could
  // miss a write committed while it waited.
  lockMerge: `SELECT g.*, pg_advisory_xact_lock(hashtextextended($2, 0)) AS user_locked
     FROM gm_guests g WHERE g.id = $1 FOR UPDATE`,
  // A group of merges takes every user lock first, in hash order, then every guest row, in id
  // order (the order `lockMerge` takes its two in), so that two groups never wait on each other.
  // The materialised CTE runs before any row is locked: LockRows sits above the join.
  lockMergeGroup: `WITH users AS MATERIALIZED (
       SELECT COUNT(pg_advisory_xact_lock(h)) AS n FROM (
         SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY h
       ) AS sorted
     )
     SELECT g.* FROM gm_guests g, users WHERE g.id = ANY($2::text[]) ORDER BY g.id FOR UPDATE OF g`,
  readOwners: `SELECT owner, name, value, updated_at FROM gm_attributes
     WHERE owner = ANY($1::text[]) ORDER BY owner, name`,
  // The third writes the user's profile, deletes the guest's, marks the guest merged and counts
  // it. Its parts touch different rows (user attributes written or deleted by distinct names,
  // guest attributes, the guest, a counter), so no part needs to see another's change.
  finishMerge: `WITH written AS (
       INSERT INTO gm_attributes (owner, name, value, size, updated_at)
       SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[])
       ON CONFLICT (owner, name) DO UPDATE SET value = excluded.value, size = excluded.size,
         updated_at = excluded.updated_at
     ), removed AS (
       DELETE FROM gm_attributes WHERE owner = $1::text AND name = ANY($6::text[])
     ), guest_attributes AS (
       DELETE FROM gm_attributes WHERE owner = 'g:' || $7::text
     ), counted AS (
       INSERT INTO gm_counters (name, shard, value)
       VALUES ('merged', pg_backend_pid() % ${COUNTER_SHARDS}, 1)
       ON CONFLICT (name, shard) DO UPDATE SET value = gm_counters.value + excluded.value
     )
     UPDATE gm_guests SET merged_into = $8, merged_at = $9, merge_result = $10,
       expires_at = GREATEST(expires_at, $11) WHERE id = $7`,
  // `finishMerge` for a whole group: each user attribute the group changed once (its final
  // value, or deleted), the merged guests' attributes deleted, the guests marked, one count.
  finishMerges: `WITH written AS (
       INSERT INTO gm_attributes (owner, name, value, size, updated_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[])
       ON CONFLICT (owner, name) DO UPDATE SET value = excluded.value, size = excluded.size,
         updated_at = excluded.updated_at
     ), removed AS (
       DELETE FROM gm_attributes a USING unnest($6::text[], $7::text[]) AS d(owner, name)
       WHERE a.owner = d.owner AND a.name = d.name
     ), guest_attributes AS (
       DELETE FROM gm_attributes WHERE owner = ANY($8::text[])
     ), counted AS (
       INSERT INTO gm_counters (name, shard, value)
       VALUES ('merged', pg_backend_pid() % ${COUNTER_SHARDS}, cardinality($9::text[]))
       ON CONFLICT (name, shard) DO UPDATE SET value = gm_counters.value + excluded.value
     )
     UPDATE gm_guests g SET merged_into = m.user_id, merged_at = m.merged_at,
       merge_result = m.result, expires_at = GREATEST(g.expires_at, m.retain_until)
     FROM unnest($9::text[], $10::text[], $11::bigint[], $12::text[], $13::bigint[])
       AS m(id, user_id, merged_at, result, retain_until)
     WHERE g.id = m.id`,
  // The purge's batches run after purgeJoins, so each guest's attributes are found by a probe of
  // the primary key; the batch itself is the oldest expiries first, read from the expiry index.
  purgeJoins: `SELECT set_config('enable_hashjoin', 'off', true),
       set_config('enable_mergejoin', 'off', true)`,
  purgeBatch: `WITH batch AS (
       SELECT id, merged_into IS NOT NULL AS merged FROM gm_guests
       WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
     ), attributes AS (
       DELETE FROM gm_attributes a USING batch b WHERE a.owner = 'g:' || b.id
     ), guests AS (
       DELETE FROM gm_guests g USING batch b WHERE g.id = b.id RETURNING b.merged
     )
     SELECT COUNT(*)::int AS total, (COUNT(*) FILTER (WHERE merged))::int AS merged FROM guests`,
  deleteActiveGuest: 'DELETE FROM gm_guests WHERE id = $1 AND merged_into IS NULL',
  addCounter: `INSERT INTO gm_counters (name, shard, value)
     VALUES ($2, pg_backend_pid() % ${COUNTER_SHARDS}, $1)
     ON CONFLICT (name, shard) DO UPDATE SET value = gm_counters.value + excluded.value`,
  counters: 'SELECT name, SUM(value)::bigint AS value FROM gm_counters GROUP BY name',
  expiredUnpurged:
    'SELECT COUNT(*)::bigint AS n FROM gm_guests WHERE expires_at <= $1 AND merged_into IS NULL',
  // Group commit and group reads.
  // A group's new guests, their attributes and the `created` counter in one statement, which is
  // a transaction of its own when the group holds nothing else. A new guest's attributes cannot
  // exist yet, so they are plain inserts: no speculative insertion and its confirmation record,
  // as an upsert would cost per row.
  createGuests: `WITH guests AS (
       INSERT INTO gm_guests (id, secret_hash, created_at, expires_at)
       SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bigint[])
     ), counted AS (
       INSERT INTO gm_counters (name, shard, value)
       VALUES ('created', pg_backend_pid() % ${COUNTER_SHARDS}, cardinality($1::text[]))
       ON CONFLICT (name, shard) DO UPDATE SET value = gm_counters.value + excluded.value
     )
     INSERT INTO gm_attributes (owner, name, value, size, updated_at)
     SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::int[], $9::bigint[])`,
  lockGuests: `SELECT id, secret_hash, created_at, expires_at, merged_into FROM gm_guests
     WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
  // The per-owner lookups of the hot paths are lateral subqueries that the planner cannot turn
  // into a join (OFFSET 0 keeps them apart): each owner is one probe of the primary key's
  // (owner, name) prefix whatever the table's statistics say. Fresh tables have none until
  // autovacuum analyzes them, and a join planned on the default estimate (200 distinct owners)
  // scans every attribute row for each group.
  attributeSizes: `SELECT o.owner, a.name, a.size FROM unnest($1::text[]) AS o(owner)
     CROSS JOIN LATERAL (SELECT name, size FROM gm_attributes WHERE owner = o.owner OFFSET 0) a`,
  // A group's attribute writes under its guests' row locks, so which rows exist is known: those
  // that do are updated in place (no speculative insertion, no extra tuple lock, one WAL record
  // less per row than an upsert), the new ones inserted; the upsert stays for safety.
  writeAttributes: `WITH changed AS (
       UPDATE gm_attributes a SET value = u.value, size = u.size, updated_at = u.updated_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[])
         AS u(owner, name, value, size, updated_at)
       WHERE a.owner = u.owner AND a.name = u.name
     )
     INSERT INTO gm_attributes (owner, name, value, size, updated_at)
     SELECT * FROM unnest($6::text[], $7::text[], $8::text[], $9::int[], $10::bigint[])
     ON CONFLICT (owner, name) DO UPDATE SET value = excluded.value, size = excluded.size, updated_at = excluded.updated_at`,
  extendGuests: `UPDATE gm_guests g SET expires_at = u.expires_at
     FROM unnest($1::text[], $2::bigint[]) AS u(id, expires_at)
     WHERE g.id = u.id AND g.merged_into IS NULL AND g.expires_at < u.expires_at`,
  guestsWithAttributes: `SELECT g.id, g.secret_hash, g.created_at, g.expires_at, g.merged_into,
       g.merged_at, a.name, a.value, a.updated_at AS attribute_updated_at
     FROM gm_guests g LEFT JOIN LATERAL (
       SELECT name, value, updated_at FROM gm_attributes WHERE owner = 'g:' || g.id OFFSET 0
     ) a ON true
     WHERE g.id = ANY($1::text[]) ORDER BY g.id, a.name`,
} as const;

export type QueryName = keyof typeof q;
