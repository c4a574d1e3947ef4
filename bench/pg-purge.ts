// The PostgreSQL purge on fresh and on analyzed tables: a durable embedded PostgreSQL 18, a store
// filled with guests of three attributes each (straight INSERTs, as a busy first day would leave
// it, with autovacuum off so that no statistics appear on their own), then one purge round.
// Run:
//   node --conditions=@guestmode/source --import tsx bench/pg-purge.ts
// Each line is one shape (guests, share expired) and one state of the statistics; the time is
// the whole round, every batch committed.

import pg from 'pg';
import { createGuestmode } from '../packages/core/src/engine.js';
import { openPostgresStorage } from '../packages/core/src/storage/postgres/index.js';
import { startPostgres } from '../packages/testkit/src/postgres.js';

const SHAPES = [
  { guests: 50_000, expiredEvery: 2 },
  { guests: 200_000, expiredEvery: 50 },
] as const;

const server = await startPostgres({ durable: true });
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();

async function round(guests: number, expiredEvery: number, analyzed: boolean): Promise<void> {
  const name = `purge_${guests}_${expiredEvery}_${analyzed ? 'analyzed' : 'fresh'}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  const storage = await openPostgresStorage({ database: url.href });
  const gm = createGuestmode({ storage, purge: { enabled: false } });
  const db = new pg.Client({ connectionString: url.href });
  await db.connect();
  try {
    await db.query(`ALTER TABLE gm_guests SET (autovacuum_enabled = false);
      ALTER TABLE gm_attributes SET (autovacuum_enabled = false)`);
    await db.query(
      `INSERT INTO gm_guests (id, secret_hash, created_at, expires_at)
       SELECT 'guest-' || i, '\\x00', 0, CASE WHEN i % $2 = 0 THEN 1 ELSE 9e15 END
       FROM generate_series(1, $1::int) i`,
      [guests, expiredEvery],
    );
    await db.query(
      `INSERT INTO gm_attributes (owner, name, value, size, updated_at)
       SELECT 'g:guest-' || i, n, '[1]', 3, 0
       FROM generate_series(1, $1::int) i, unnest(ARRAY['cart', 'theme', 'locale']) n`,
      [guests],
    );
    if (analyzed) await db.query('ANALYZE gm_guests, gm_attributes');
    const started = process.hrtime.bigint();
    const { deleted } = await gm.purgeRound();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(
      `${String(guests).padStart(7)} guests, 1 in ${String(expiredEvery).padEnd(2)} expired, ` +
        `${analyzed ? 'analyzed' : 'fresh   '}: ${deleted} purged in ${ms.toFixed(0)} ms`,
    );
  } finally {
    await db.end();
    await gm.close();
    await admin.query(`DROP DATABASE ${name}`);
  }
}

try {
  for (const { guests, expiredEvery } of SHAPES) {
    for (const analyzed of [false, true]) await round(guests, expiredEvery, analyzed);
  }
} finally {
  await admin.end();
  await server.stop();
}
