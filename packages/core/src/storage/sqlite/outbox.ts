import { randomUUID } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import type {
  ClaimedEvent,
  EventOutbox,
  EventSettlement,
  EventState,
  NewEvent,
  StoredEvent,
} from '../types.js';

/**
 * The event outbox (`gm_events`). A row is written by the operation it describes, in that
 * operation's transaction; `done` lists the consumers that have taken it (JSON array), so a
 * retry goes only to those that have not.
 */
export const SQLITE_OUTBOX_MIGRATION = `CREATE TABLE gm_events (
     id TEXT PRIMARY KEY,
     type TEXT NOT NULL,
     subject TEXT NOT NULL,
     payload TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending',
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL,
     claim TEXT,
     claimed_until INTEGER NOT NULL DEFAULT 0,
     done TEXT NOT NULL DEFAULT '[]',
     last_error TEXT,
     settled_at INTEGER
   ) WITHOUT ROWID;
   CREATE INDEX gm_events_due ON gm_events (next_attempt_at) WHERE state = 'pending';
   CREATE INDEX gm_events_subject ON gm_events (subject, id) WHERE state = 'pending';
   CREATE INDEX gm_events_settled ON gm_events (settled_at) WHERE state <> 'pending';`;

const INSERT =
  'INSERT INTO gm_events (id, type, subject, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)';

const inserts = new WeakMap<BetterSqlite3.Database, BetterSqlite3.Statement>();

/** Writes one event; called inside the transaction of the change it describes. */
export function writeEvent(db: BetterSqlite3.Database, event: NewEvent): void {
  let statement = inserts.get(db);
  if (!statement) {
    statement = db.prepare(INSERT);
    inserts.set(db, statement);
  }
  statement.run(
    event.id,
    event.type,
    event.subject,
    event.payload,
    event.createdAt,
    event.createdAt,
  );
}

interface RawEvent {
  id: string;
  type: string;
  subject: string;
  payload: string;
  created_at: number;
  state: EventState;
  attempts: number;
  next_attempt_at: number;
  done: string;
  last_error: string | null;
  claim: string | null;
}

const COLUMNS =
  'id, type, subject, payload, created_at, state, attempts, next_attempt_at, done, last_error, claim';

function toEvent(row: RawEvent): StoredEvent {
  return {
    id: row.id,
    type: row.type,
    subject: row.subject,
    payload: row.payload,
    createdAt: row.created_at,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    done: JSON.parse(row.done) as string[],
    lastError: row.last_error,
  };
}

/**
 * The outbox on one connection. `run` is the store's way of running a statement in turn with its
 * other operations (behind its gate). One process owns a SQLite file's worker, so the lease only
 * guards against a worker that outlives a restart of its own delivery.
 */
export function sqliteOutbox(
  db: BetterSqlite3.Database,
  run: <T>(fn: () => T) => Promise<T>,
): EventOutbox {
  return {
    claim: (now, leaseUntil, limit) =>
      run(() =>
        db
          .transaction((): ClaimedEvent[] => {
            const rows = db
              .prepare(
                `SELECT ${COLUMNS} FROM gm_events c
                 WHERE c.state = 'pending' AND c.next_attempt_at <= ? AND c.claimed_until <= ?
                   AND NOT EXISTS (SELECT 1 FROM gm_events p
                     WHERE p.subject = c.subject AND p.state = 'pending' AND p.id < c.id)
                 ORDER BY c.next_attempt_at, c.id LIMIT ?`,
              )
              .all(now, now, limit) as RawEvent[];
            const mark = db.prepare(
              'UPDATE gm_events SET claim = ?, claimed_until = ? WHERE id = ?',
            );
            return rows.map((row) => {
              const claim = randomUUID();
              mark.run(claim, leaseUntil, row.id);
              return { ...toEvent(row), claim };
            });
          })
          .immediate(),
      ),
    settle: (id, claim, s: EventSettlement) =>
      run(
        () =>
          db
            .prepare(
              `UPDATE gm_events SET state = ?, attempts = ?, next_attempt_at = ?, done = ?,
                 last_error = ?, claim = NULL, claimed_until = 0,
                 settled_at = CASE WHEN ? = 'pending' THEN NULL ELSE ? END
               WHERE id = ? AND claim = ?`,
            )
            .run(
              s.state,
              s.attempts,
              s.nextAttemptAt,
              JSON.stringify(s.done),
              s.lastError,
              s.state,
              s.settledAt,
              id,
              claim,
            ).changes > 0,
      ),
    list: (state, afterId, limit) =>
      run(() =>
        (
          db
            .prepare(
              `SELECT ${COLUMNS} FROM gm_events WHERE id > ? AND (? IS NULL OR state = ?) ORDER BY id LIMIT ?`,
            )
            .all(afterId, state ?? null, state ?? null, limit) as RawEvent[]
        ).map(toEvent),
      ),
    resend: (id, now) =>
      run(
        () =>
          db
            .prepare(
              `UPDATE gm_events SET state = 'pending', attempts = 0, next_attempt_at = ?, done = '[]',
                 last_error = NULL, claim = NULL, claimed_until = 0, settled_at = NULL WHERE id = ?`,
            )
            .run(now, id).changes > 0,
      ),
    releaseClaims: () =>
      run(() => {
        db.prepare(
          "UPDATE gm_events SET claim = NULL, claimed_until = 0 WHERE state = 'pending' AND claim IS NOT NULL",
        ).run();
      }),
    prune: (before, limit) =>
      run(
        () =>
          db
            .prepare(
              `DELETE FROM gm_events WHERE id IN (SELECT id FROM gm_events
                 WHERE state <> 'pending' AND settled_at < ? LIMIT ?)`,
            )
            .run(before, limit).changes,
      ),
  };
}
