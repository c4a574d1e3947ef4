import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import type { AttributeKey, AttributeRecord, CopyStore, GuestRecord } from './stores.js';

const GUEST_COLUMNS =
  'id, secret_hash, created_at, expires_at, merged_into, merged_at, merge_result';

/** A SQLite file as one side of a copy (statements run synchronously; the API is a promise). */
export function openSqliteCopy(path: string): CopyStore {
  const db = new (loadSqliteDriver().Database)(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  const s = {
    guestsFirst: db.prepare(`SELECT ${GUEST_COLUMNS} FROM gm_guests ORDER BY id LIMIT ?`),
    guestsAfter: db.prepare(
      `SELECT ${GUEST_COLUMNS} FROM gm_guests WHERE id > ? ORDER BY id LIMIT ?`,
    ),
    attributesFirst: db.prepare(
      'SELECT owner, name, value, size, updated_at FROM gm_attributes ORDER BY owner, name LIMIT ?',
    ),
    attributesAfter: db.prepare(
      `SELECT owner, name, value, size, updated_at FROM gm_attributes
       WHERE (owner, name) > (?, ?) ORDER BY owner, name LIMIT ?`,
    ),
    lastGuest: db.prepare('SELECT id FROM gm_guests ORDER BY id DESC LIMIT 1'),
    lastAttribute: db.prepare(
      'SELECT owner, name FROM gm_attributes ORDER BY owner DESC, name DESC LIMIT 1',
    ),
    insertGuest: db.prepare(
      `INSERT INTO gm_guests (${GUEST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertAttribute: db.prepare(
      'INSERT INTO gm_attributes (owner, name, value, size, updated_at) VALUES (?, ?, ?, ?, ?)',
    ),
    counters: db.prepare('SELECT name, value FROM gm_counters'),
    insertCounter: db.prepare('INSERT INTO gm_counters (name, value) VALUES (?, ?)'),
  };
  const insert = db.transaction(
    (guests: readonly GuestRecord[], attributes: readonly AttributeRecord[]) => {
      for (const g of guests) {
        s.insertGuest.run(
          g.id,
          g.secret_hash,
          g.created_at,
          g.expires_at,
          g.merged_into,
          g.merged_at,
          g.merge_result,
        );
      }
      for (const a of attributes) {
        s.insertAttribute.run(a.owner, a.name, a.value, a.size, a.updated_at);
      }
    },
  );
  const setCounters = db.transaction((counters: ReadonlyMap<string, number>) => {
    db.exec('DELETE FROM gm_counters');
    for (const [name, value] of counters) s.insertCounter.run(name, value);
  });
  const clear = db.transaction(() => {
    db.exec('DELETE FROM gm_attributes; DELETE FROM gm_guests; DELETE FROM gm_counters');
  });
  return {
    async count(table) {
      return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    },
    async guestsAfter(id, limit) {
      const rows = (
        id === null ? s.guestsFirst.all(limit) : s.guestsAfter.all(id, limit)
      ) as (GuestRecord & { secret_hash: Uint8Array })[];
      return rows.map((r) => ({ ...r, secret_hash: Buffer.from(r.secret_hash) }));
    },
    async attributesAfter(key, limit) {
      return (
        key === null ? s.attributesFirst.all(limit) : s.attributesAfter.all(key[0], key[1], limit)
      ) as AttributeRecord[];
    },
    async lastGuestId() {
      return (s.lastGuest.get() as { id: string } | undefined)?.id ?? null;
    },
    async lastAttributeKey(): Promise<AttributeKey | null> {
      const row = s.lastAttribute.get() as { owner: string; name: string } | undefined;
      return row ? [row.owner, row.name] : null;
    },
    async insert(guests, attributes) {
      insert(guests, attributes);
    },
    async counters() {
      const rows = s.counters.all() as { name: string; value: number }[];
      return new Map(rows.map((r) => [r.name, r.value]));
    },
    async setCounters(counters) {
      setCounters(counters);
    },
    async clear() {
      clear();
    },
    async close() {
      db.close();
    },
  };
}
