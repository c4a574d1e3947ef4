import pg from 'pg';
import type { AttributeKey, AttributeRecord, CopyStore, GuestRecord } from './stores.js';

const GUEST_COLUMNS =
  'id, secret_hash, created_at, expires_at, merged_into, merged_at, merge_result';

interface RawGuest extends Omit<GuestRecord, 'created_at' | 'expires_at' | 'merged_at'> {
  created_at: string;
  expires_at: string;
  merged_at: string | null;
}

/**
 * A PostgreSQL database as one side of a copy. Keys are compared with the "C" collation, byte
 * by byte as SQLite compares them, whatever the database's own collation.
 */
export async function openPostgresCopy(url: string): Promise<CopyStore> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const inTransaction = async (fn: () => Promise<unknown>) => {
    await client.query('BEGIN');
    try {
      await fn();
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  };
  return {
    async count(table) {
      const { rows } = await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${table}`);
      return Number(rows[0]!.n);
    },
    async guestsAfter(id, limit) {
      const { rows } = await client.query<RawGuest>(
        `SELECT ${GUEST_COLUMNS} FROM gm_guests WHERE $1::text IS NULL OR id COLLATE "C" > $1
         ORDER BY id COLLATE "C" LIMIT $2`,
        [id, limit],
      );
      return rows.map((r) => ({
        ...r,
        created_at: Number(r.created_at),
        expires_at: Number(r.expires_at),
        merged_at: r.merged_at === null ? null : Number(r.merged_at),
      }));
    },
    async attributesAfter(key, limit) {
      const { rows } = await client.query<AttributeRecord & { updated_at: string }>(
        `SELECT owner, name, value, size, updated_at FROM gm_attributes
         WHERE $1::text IS NULL OR (owner COLLATE "C", name COLLATE "C") > ($1::text, $2::text)
         ORDER BY owner COLLATE "C", name COLLATE "C" LIMIT $3`,
        [key?.[0] ?? null, key?.[1] ?? null, limit],
      );
      return rows.map((r) => ({ ...r, updated_at: Number(r.updated_at) }));
    },
    async lastGuestId() {
      const { rows } = await client.query<{ id: string | null }>(
        'SELECT MAX(id COLLATE "C") AS id FROM gm_guests',
      );
      return rows[0]!.id;
    },
    async lastAttributeKey(): Promise<AttributeKey | null> {
      const { rows } = await client.query<{ owner: string; name: string }>(
        `SELECT owner, name FROM gm_attributes
         ORDER BY owner COLLATE "C" DESC, name COLLATE "C" DESC LIMIT 1`,
      );
      return rows[0] ? [rows[0].owner, rows[0].name] : null;
    },
    async insert(guests, attributes) {
      await inTransaction(async () => {
        if (guests.length > 0) {
          await client.query(
            `INSERT INTO gm_guests (${GUEST_COLUMNS})
             SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bigint[], $5::text[],
               $6::bigint[], $7::text[])`,
            [
              guests.map((g) => g.id),
              guests.map((g) => g.secret_hash),
              guests.map((g) => g.created_at),
              guests.map((g) => g.expires_at),
              guests.map((g) => g.merged_into),
              guests.map((g) => g.merged_at),
              guests.map((g) => g.merge_result),
            ],
          );
        }
        if (attributes.length > 0) {
          await client.query(
            `INSERT INTO gm_attributes (owner, name, value, size, updated_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[])`,
            [
              attributes.map((a) => a.owner),
              attributes.map((a) => a.name),
              attributes.map((a) => a.value),
              attributes.map((a) => a.size),
              attributes.map((a) => a.updated_at),
            ],
          );
        }
      });
    },
    async counters() {
      const { rows } = await client.query<{ name: string; value: string }>(
        'SELECT name, SUM(value) AS value FROM gm_counters GROUP BY name',
      );
      return new Map(rows.map((r) => [r.name, Number(r.value)]));
    },
    async setCounters(counters) {
      await inTransaction(async () => {
        await client.query('DELETE FROM gm_counters');
        await client.query(
          'INSERT INTO gm_counters (name, shard, value) SELECT name, 0, value FROM unnest($1::text[], $2::bigint[]) AS c(name, value)',
          [[...counters.keys()], [...counters.values()]],
        );
      });
    },
    async clear() {
      await inTransaction(async () => {
        await client.query('TRUNCATE gm_guests, gm_attributes');
        await client.query('DELETE FROM gm_counters');
      });
    },
    async close() {
      await client.end();
    },
  };
}
