// Where the PostgreSQL adapter's time goes, per operation: a durable embedded PostgreSQL 18 with
// pg_stat_statements and WAL I/O timing, the engine in process, 50 operations in flight. Run:
//   node --conditions=@guestmode/source --import tsx bench/pg-statements.ts [count]
// For create, write, read and merge it prints the wall time per operation, the statements per
// operation (each one round trip, BEGIN and COMMIT included) with their server time
// (pg_stat_statements, top statements), and the WAL flushes with their time (pg_stat_io), so
// that round trips, statement work and commit flushes can be told apart.

import pg from 'pg';
import { createGuestmode } from '../packages/core/src/engine.js';
import { openPostgresStorage } from '../packages/core/src/storage/postgres/index.js';
import { startPostgres } from '../packages/testkit/src/postgres.js';

const COUNT = Number(process.argv[2] ?? 5000);
const IN_FLIGHT = 50;
const cart = [{ id: 'b1', quantity: 2, title: 'A book' }];

const server = await startPostgres({ durable: true });
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();
await admin.query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
await admin.query('ALTER SYSTEM SET track_wal_io_timing = on');
await admin.end();
await server.restart();
const stats = new pg.Client({ connectionString: server.url });
await stats.connect();
await stats.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');

const storage = await openPostgresStorage({ database: server.url });
const gm = createGuestmode({ storage, mergeRules: { cart: 'sum-by-key' } });

async function run(label: string, op: (i: number) => Promise<unknown>): Promise<void> {
  await stats.query('SELECT pg_stat_statements_reset()');
  await stats.query("SELECT pg_stat_reset_shared('io')");
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < COUNT) await op(next++);
    }),
  );
  const wallUs = Number(process.hrtime.bigint() - started) / 1000;
  const { rows } = await stats.query<{ query: string; calls: string; ms: number }>(
    `SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, calls, total_exec_time AS ms
       FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%' ORDER BY total_exec_time DESC`,
  );
  const io = await stats.query<{ fsyncs: string; fsync_ms: number; writes: string }>(
    `SELECT COALESCE(SUM(fsyncs), 0) AS fsyncs, COALESCE(SUM(fsync_time), 0) AS fsync_ms,
            COALESCE(SUM(writes), 0) AS writes FROM pg_stat_io WHERE object = 'wal'`,
  );
  const calls = rows.reduce((n, r) => n + Number(r.calls), 0);
  const execMs = rows.reduce((n, r) => n + r.ms, 0);
  const w = io.rows[0]!;
  console.log(
    `\n${label}: ${COUNT} ops, ${Math.round(COUNT / (wallUs / 1e6))}/s, ` +
      `${(wallUs / COUNT).toFixed(0)} µs wall per op (${IN_FLIGHT} in flight); ` +
      `${(calls / COUNT).toFixed(2)} statements and ${((execMs * 1000) / COUNT).toFixed(0)} µs ` +
      `of statement time per op; WAL: ${w.fsyncs} flushes (${(Number(w.fsyncs) / COUNT).toFixed(2)} per op), ` +
      `${Number(w.fsync_ms).toFixed(0)} ms flushing, ${w.writes} writes`,
  );
  for (const r of rows.slice(0, 12)) {
    console.log(
      `  ${String(r.calls).padStart(7)} calls ${((r.ms * 1000) / Number(r.calls)).toFixed(0).padStart(5)} µs  ${r.query.slice(0, 110)}`,
    );
  }
}

const tokens: string[] = [];
await run('create', async () => {
  tokens.push((await gm.createGuest({ cart })).token);
});
await run('write', (i) => gm.setGuestAttribute(tokens[i % tokens.length]!, 'cart', cart));
await run('read', (i) => gm.authenticateGuest(tokens[i % tokens.length]!));
// Each guest (one cart) into a user of its own who has a cart already: every merge is a first.
const user = (i: number) => ({ kind: 'user' as const, id: `user-${i}` });
for (let i = 0; i < COUNT; i += IN_FLIGHT) {
  const batch = Array.from({ length: Math.min(IN_FLIGHT, COUNT - i) }, (_, j) => i + j);
  await Promise.all(batch.map((k) => gm.setAttribute(user(k), 'cart', cart)));
}
await run('merge', (i) => gm.merge({ guestToken: tokens[i]!, userId: user(i).id }));

await storage.close();
await stats.end();
await server.stop();
