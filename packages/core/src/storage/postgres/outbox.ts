import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type {
  ClaimedEvent,
  EventOutbox,
  EventSettlement,
  EventState,
  NewEvent,
  StoredEvent,
} from '../types.js';
import { wrap } from './driver-errors.js';

/**
 * The event outbox (`gm_events`), as in SQLite. Rows are written by the operations they describe,
 * in those operations' transactions. `claim` hands each due event to one process for a lease:
 * `FOR UPDATE SKIP LOCKED` keeps concurrent claims apart, `claimed_until` keeps a claimed event
 * out of the others' hands after the claim commits, until the lease runs out (a killed claimer's
 * events are then claimed again).
 */
export const POSTGRES_OUTBOX_MIGRATION = `CREATE TABLE gm_events (
     id text PRIMARY KEY,
     type text NOT NULL,
     subject text NOT NULL,
     payload text NOT NULL,
     created_at bigint NOT NULL,
     state text NOT NULL DEFAULT 'pending',
     attempts integer NOT NULL DEFAULT 0,
     next_attempt_at bigint NOT NULL,
     claim text,
     claimed_until bigint NOT NULL DEFAULT 0,
     done text NOT NULL DEFAULT '[]',
     last_error text,
     settled_at bigint
   );
   CREATE INDEX gm_events_due ON gm_events (next_attempt_at) WHERE state = 'pending';
   CREATE INDEX gm_events_subject ON gm_events (subject, id) WHERE state = 'pending';
   CREATE INDEX gm_events_settled ON gm_events (settled_at) WHERE state <> 'pending';`;

const INSERT = `INSERT INTO gm_events (id, type, subject, payload, created_at, next_attempt_at)
  SELECT *, c FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS e(i, t, s, p, c)`;

/** Writes events; called inside the transaction of the change they describe. */
export async function writeEvents(client: pg.PoolClient, events: readonly NewEvent[]) {
  if (events.length === 0) return;
  await client.query(INSERT, [
    events.map((e) => e.id),
    events.map((e) => e.type),
    events.map((e) => e.subject),
    events.map((e) => e.payload),
    events.map((e) => e.createdAt),
  ]);
}

export const PURGE_WITH_IDS = `WITH batch AS (
    SELECT id, merged_into IS NOT NULL AS merged FROM gm_guests
    WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
  ), attributes AS (
    DELETE FROM gm_attributes a USING batch b WHERE a.owner = 'g:' || b.id
  ), guests AS (
    DELETE FROM gm_guests g USING batch b WHERE g.id = b.id RETURNING b.id, b.merged
  )
  SELECT COUNT(*)::int AS total, (COUNT(*) FILTER (WHERE merged))::int AS merged,
    COALESCE(array_agg(id) FILTER (WHERE NOT merged), '{}') AS expired FROM guests`;

/** The purge's batch when events are on: the same deletes, and the expired guests' events. */
export async function purgeWithEvents(
  client: pg.PoolClient,
  now: number,
  batchSize: number,
  expired: (guestId: string) => NewEvent,
): Promise<{ total: number; merged: number }> {
  const { rows } = await client.query<{ total: number; merged: number; expired: string[] }>(
    PURGE_WITH_IDS,
    [now, batchSize],
  );
  const row = rows[0]!;
  await writeEvents(client, row.expired.map(expired));
  return row;
}

interface RawEvent {
  id: string;
  type: string;
  subject: string;
  payload: string;
  created_at: string;
  state: EventState;
  attempts: number;
  next_attempt_at: string;
  done: string;
  last_error: string | null;
}

const COLUMNS =
  'id, type, subject, payload, created_at, state, attempts, next_attempt_at, done, last_error';

function toEvent(row: RawEvent): StoredEvent {
  return {
    id: row.id,
    type: row.type,
    subject: row.subject,
    payload: row.payload,
    createdAt: Number(row.created_at),
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: Number(row.next_attempt_at),
    done: JSON.parse(row.done) as string[],
    lastError: row.last_error,
  };
}

const CLAIM = `UPDATE gm_events e SET claim = $3, claimed_until = $2
  WHERE e.id IN (
    SELECT c.id FROM gm_events c
    WHERE c.state = 'pending' AND c.next_attempt_at <= $1 AND c.claimed_until <= $1
      AND NOT EXISTS (SELECT 1 FROM gm_events p
        WHERE p.subject = c.subject AND p.state = 'pending' AND p.id < c.id)
    ORDER BY c.next_attempt_at, c.id LIMIT $4
    FOR UPDATE SKIP LOCKED)
  RETURNING ${COLUMNS.replaceAll(/(\w+)/g, 'e.$1')}`;

export function postgresOutbox(pool: pg.Pool): EventOutbox {
  return {
    async claim(now, leaseUntil, limit) {
      // One claim token per round: settling needs the token, so a worker whose lease ran out
      // cannot overwrite what the worker that took over decided.
      const claim = randomUUID();
      const { rows } = await pool
        .query<RawEvent>(CLAIM, [now, leaseUntil, claim, limit])
        .catch(wrap);
      return rows
        .map((row): ClaimedEvent => ({ ...toEvent(row), claim }))
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    async settle(id, claim, s: EventSettlement) {
      const result = await pool
        .query(
          `UPDATE gm_events SET state = $1, attempts = $2, next_attempt_at = $3, done = $4,
             last_error = $5, claim = NULL, claimed_until = 0,
             settled_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $6::bigint END
           WHERE id = $7 AND claim = $8`,
          [
            s.state,
            s.attempts,
            s.nextAttemptAt,
            JSON.stringify(s.done),
            s.lastError,
            s.settledAt,
            id,
            claim,
          ],
        )
        .catch(wrap);
      return (result.rowCount ?? 0) > 0;
    },
    async list(state, afterId, limit) {
      const { rows } = await pool
        .query<RawEvent>(
          `SELECT ${COLUMNS} FROM gm_events WHERE id > $1 AND ($2::text IS NULL OR state = $2)
           ORDER BY id LIMIT $3`,
          [afterId, state ?? null, limit],
        )
        .catch(wrap);
      return rows.map(toEvent);
    },
    async resend(id, now) {
      const result = await pool
        .query(
          `UPDATE gm_events SET state = 'pending', attempts = 0, next_attempt_at = $1, done = '[]',
             last_error = NULL, claim = NULL, claimed_until = 0, settled_at = NULL WHERE id = $2`,
          [now, id],
        )
        .catch(wrap);
      return (result.rowCount ?? 0) > 0;
    },
    async prune(before, limit) {
      const result = await pool
        .query(
          `DELETE FROM gm_events WHERE id IN (SELECT id FROM gm_events
             WHERE state <> 'pending' AND settled_at < $1 LIMIT $2)`,
          [before, limit],
        )
        .catch(wrap);
      return result.rowCount ?? 0;
    },
  };
}
