// Scale: a million expired guests in a SQLite file (insert time, bytes per guest, one stats()
// call), the server's memory and a 1,000-line merge with them there, their purge under read load
// (purge.ts), and bytes per guest on PostgreSQL.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import pg from 'pg';
import { type BenchContext, log } from '../context.js';
import { type BenchDb, createDatabase, withBenchDb } from '../db.js';
import {
  createPostgresSchema,
  createSqliteSchema,
  guestIdGenerator,
  timeStats,
} from '../engine-calls.js';
import { cartOf, createGuests, postJson, signTokens, TYPICAL_CART } from '../fixtures.js';
import { type Env, memoryOf } from '../proc.js';
import { CONNECTIONS, limitFor } from '../settings.js';
import type { ScaleResult } from '../types.js';
import { type GuestmodeStack, guestmodeEnv } from './guestmode.js';
import { measurePurge } from './purge.js';

/** The scale part of a run; a failure is recorded in the result, never thrown. */
export async function runScale(
  ctx: BenchContext,
  stack: GuestmodeStack,
  postgresAdminUrl: string,
): Promise<ScaleResult> {
  const { settings } = ctx;
  let scale: ScaleResult;
  try {
    scale = await scaleSqlite(ctx, stack);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`scale FAILED: ${message}`);
    scale = { error: message, rows: { passed: false, detail: `failed: ${message}` } };
  }
  try {
    log(`scale: ${settings.pgScaleGuests} guests into PostgreSQL for bytes per guest`);
    scale.postgresGuests = settings.pgScaleGuests;
    scale.postgresBytesPerGuest = await postgresBytesPerGuest(
      ctx,
      stack,
      await createDatabase(postgresAdminUrl, 'guestmode_scale'),
    );
  } catch (error) {
    log(`scale (PostgreSQL) FAILED: ${error instanceof Error ? error.message : String(error)}`);
  }
  return scale;
}

async function scaleSqlite(ctx: BenchContext, stack: GuestmodeStack): Promise<ScaleResult> {
  const { settings } = ctx;
  const scale: ScaleResult = { guests: settings.scaleGuests };
  const path = join(ctx.work, 'scale.db');
  await createSqliteSchema(stack.release, path);

  log(`scale: inserting ${settings.scaleGuests} expired guests into SQLite`);
  scale.insertSeconds = insertExpiredGuests(
    path,
    settings.scaleGuests,
    await guestIdGenerator(stack.release),
  );
  const bytes = statSync(path).size;
  scale.sqliteBytesPerGuest = Math.round(bytes / settings.scaleGuests);
  log(
    `scale: ${Math.round(scale.insertSeconds)} s, ${(bytes / 1e6).toFixed(0)} MB, ${scale.sqliteBytesPerGuest} B/guest`,
  );
  scale.statsMs = await timeStats(stack.release, path);

  const url = `sqlite:${path}`;
  await withBenchDb(url, async (bench) => {
    // The dashboard's 10 s stats sampler must land in neither measurement window.
    const env = guestmodeEnv(ctx, stack.issuer.issuer, url, {
      GUESTMODE_PURGE_INTERVAL: 'off',
      GUESTMODE_DASHBOARD: 'off',
    });
    const live = await memoryAndBigMerge(ctx, stack, env, bench, scale);
    await measurePurge(ctx, stack, env, bench, live, scale);
  });
  return scale;
}

/**
 * Inserts `count` expired guests, each with the typical cart, in transactions of 50,000. Ids
 * come from the released core's own generator (at creation times a millisecond apart), so the
 * B-trees have the shape real guests give them. Returns the seconds it took.
 */
function insertExpiredGuests(
  path: string,
  count: number,
  newId: (createdAt: number) => string,
): number {
  const db = new (loadSqliteDriver().Database)(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const guest = db.prepare(
    'INSERT INTO gm_guests (id, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?)',
  );
  const attribute = db.prepare(
    'INSERT INTO gm_attributes (owner, name, value, size, updated_at) VALUES (?, ?, ?, ?, ?)',
  );
  // The adapter may keep funnel counters in the same transaction as its rows; keep them true.
  const hasCreated = db.prepare("SELECT 1 FROM gm_counters WHERE name = 'created'").get();
  const bump = db.prepare("UPDATE gm_counters SET value = value + ? WHERE name = 'created'");
  const now = Date.now();
  const created = now - 40 * 86_400_000 - count;
  const expired = now - 10 * 86_400_000;
  const size = Buffer.byteLength(TYPICAL_CART);
  const hash = Buffer.alloc(32);
  const started = performance.now();
  for (let done = 0; done < count; ) {
    const n = Math.min(50_000, count - done);
    db.transaction(() => {
      for (let i = done; i < done + n; i++) {
        const id = newId(created + i);
        crypto.getRandomValues(hash);
        guest.run(id, hash, created + i, expired);
        attribute.run(`g:${id}`, 'cart', TYPICAL_CART, size, created + i);
      }
      if (hasCreated) bump.run(n);
    })();
    done += n;
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return (performance.now() - started) / 1000;
}

/**
 * With the expired guests in the file (the purge off): RSS after start, after creates and reads
 * by live guests, and the peak; then the merge of a 1,000-line cart into a 1,000-line cart.
 * Returns the live guests' tokens, which the purge's read load uses.
 */
async function memoryAndBigMerge(
  ctx: BenchContext,
  stack: GuestmodeStack,
  env: Env,
  bench: BenchDb,
  scale: ScaleResult,
): Promise<string[]> {
  const { settings, loader } = ctx;
  const server = await ctx.serve([stack.release.cli, 'serve'], env, '/healthz');
  try {
    scale.rssAfterStart = memoryOf(server.pid)?.rss;
    const live = await createGuests(server.url, settings.liveGuests, `{"cart":${TYPICAL_CART}}`);
    const seconds = settings.scaleLoadSeconds;
    const load = { url: server.url, connections: CONNECTIONS, duration: seconds } as const;
    await loader.run(
      { ...load, method: 'PUT', path: '/v1/profile/attributes/cart', body: TYPICAL_CART },
      limitFor(seconds),
    );
    await loader.run(
      {
        ...load,
        method: 'GET',
        path: '/v1/profile',
        rotate: live.map((t) => ({ authorization: `Bearer ${t}` })),
      },
      limitFor(seconds),
    );
    const memory = memoryOf(server.pid);
    scale.rssAfterLoad = memory?.rss;
    scale.peakRss = memory?.peak;

    const lines = 1000;
    const guests = await createGuests(
      server.url,
      settings.merge1000Runs,
      `{"cart":${cartOf(lines)}}`,
    );
    const userIds = guests.map((_, i) => `bench-big-${i}`);
    await bench.insertUserCarts(userIds, () => cartOf(lines, lines / 2));
    const accessTokens = await signTokens(stack.issuer, userIds);
    scale.merge1000Ms = [];
    for (let i = 0; i < guests.length; i++) {
      const started = performance.now();
      const result = (await postJson(`${server.url}/v1/merge`, {
        authorization: `Bearer ${accessTokens[i]}`,
        'guest-token': guests[i]!,
      })) as { attributes: { cart: unknown[] } };
      scale.merge1000Ms.push(Math.round((performance.now() - started) * 10) / 10);
      scale.merge1000Lines = result.attributes.cart.length;
    }
    return live;
  } finally {
    await ctx.stop(server);
  }
}

/** Bytes per guest on PostgreSQL: bulk-inserted guests with the typical cart, then sizes. */
async function postgresBytesPerGuest(
  ctx: BenchContext,
  stack: GuestmodeStack,
  url: string,
): Promise<number> {
  await createPostgresSchema(stack.release, url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const n = ctx.settings.pgScaleGuests;
    const now = Date.now();
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO gm_guests (id, secret_hash, created_at, expires_at)
       SELECT substr(md5(i::text), 1, 22), sha256(i::text::bytea), $2, $3
       FROM generate_series(1, $1) AS i`,
      [n, now, now + 30 * 86_400_000],
    );
    await client.query(
      `INSERT INTO gm_attributes (owner, name, value, size, updated_at)
       SELECT 'g:' || substr(md5(i::text), 1, 22), 'cart', $2, octet_length($2), $3
       FROM generate_series(1, $1) AS i`,
      [n, TYPICAL_CART, now],
    );
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE gm_guests');
    await client.query('VACUUM ANALYZE gm_attributes');
    const { rows } = await client.query(
      `SELECT pg_total_relation_size('gm_guests') + pg_total_relation_size('gm_attributes') AS bytes`,
    );
    return Math.round(Number(rows[0].bytes) / n);
  } finally {
    await client.end();
  }
}
