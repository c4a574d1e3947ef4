import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createGuestmode } from '@guestmode/core';
import { runStorageConformance } from '@guestmode/core/conformance';
import { migratePostgres } from '@guestmode/core/migrations';
import { openPostgresStorage } from '@guestmode/core/postgres';
import { createTestDatabase, type TestDatabase } from '@guestmode/testkit';
import pg from 'pg';
import { PURGE_WITH_IDS } from '../src/storage/postgres/outbox.js';
import { MIGRATION_LOCK, POSTGRES_MIGRATIONS, q } from '../src/storage/postgres/schema.js';
import { migratedClient, recordStatements } from './pg-helpers.js';

const databases: TestDatabase[] = [];
async function newDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  databases.push(database);
  return database;
}
after(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});

runStorageConformance('postgres', async () =>
  openPostgresStorage({ database: (await newDatabase()).url }),
);

// What a pooler in transaction mode (PgBouncer) needs: no statement relies on a preparation
// made earlier on the same server connection.
runStorageConformance('postgres without prepared statements', async () => {
  const url = new URL((await newDatabase()).url);
  url.searchParams.set('prepared_statements', 'false');
  return openPostgresStorage({ database: url.href });
});

describe('postgres adapter', () => {
  it('prepares no named statement when prepared statements are off', async () => {
    const { url } = await newDatabase();
    for (const preparedStatements of [true, false]) {
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      const storage = await openPostgresStorage({ database: pool, preparedStatements });
      const gm = createGuestmode({ storage });
      const { token } = await gm.createGuest({ cart: [1] });
      await gm.setGuestAttribute(token, 'cart', [2]);
      await gm.authenticateGuest(token);
      await gm.stats();
      // The guest-creation limit and the purge's lock share the pool, so they follow it too.
      await gm.limitGuestCreation('192.0.2.1');
      assert.equal((await gm.purgeRound()).skipped, false);
      const { rows } = await pool.query<{ n: number }>(
        'SELECT COUNT(*)::int AS n FROM pg_prepared_statements',
      );
      if (preparedStatements) assert.ok(rows[0]!.n > 0);
      else assert.equal(rows[0]!.n, 0);
      await storage.close();
      await pool.end();
    }
  });

  it('holds no lock outside a transaction, which a pooler in transaction mode would lose', async () => {
    const { url } = await newDatabase();
    const storage = await openPostgresStorage({ database: url, preparedStatements: false });
    const watcher = new pg.Client({ connectionString: url });
    await watcher.connect();
    try {
      const gm = createGuestmode({ storage, purge: { enabled: false } });
      const locks = async () =>
        (
          await watcher.query<{ n: number }>(
            `SELECT COUNT(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND d.datname = current_database()`,
          )
        ).rows[0]!.n;
      // While the purge runs, its lock is held by a connection inside a transaction...
      let during = -1;
      let inTransaction = false;
      const run = await storage.runExclusive!('purge', async () => {
        during = await locks();
        const { rows } = await watcher.query<{ n: number }>(
          `SELECT COUNT(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND state = 'idle in transaction'`,
        );
        inTransaction = rows[0]!.n === 1;
        return 'done';
      });
      assert.deepEqual(run, { ran: true, value: 'done' });
      assert.equal(during, 1);
      assert.ok(inTransaction);
      // ...and goes with it, whether the work succeeds or throws.
      assert.equal(await locks(), 0);
      await assert.rejects(
        storage.runExclusive!('purge', async () => {
          throw new Error('work failed');
        }),
        /work failed/,
      );
      assert.equal(await locks(), 0);
      await gm.purgeRound();
      assert.equal(await locks(), 0);
      await gm.close();
    } finally {
      await watcher.end();
    }
  });

  it('merges in five round trips, BEGIN to COMMIT, however many attributes move', async () => {
    const { url } = await newDatabase();
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const sent = recordStatements(pool);
    const storage = await openPostgresStorage({ database: pool });
    try {
      const gm = createGuestmode({ storage, mergeRules: { cart: 'sum-by-key' } });
      const { token } = await gm.createGuest({
        cart: [{ id: 'a', quantity: 1 }],
        theme: 'dark',
        locale: 'fr',
      });
      const user = { kind: 'user', id: 'user-1' } as const;
      await gm.setAttribute(user, 'cart', [{ id: 'a', quantity: 2 }]);
      await gm.setAttribute(user, 'theme', 'light');
      sent.length = 0;
      await gm.merge({ guestToken: token, userId: 'user-1' });
      const transaction = sent.slice(sent.indexOf('BEGIN'), sent.indexOf('COMMIT') + 1);
      assert.equal(transaction.length, 5, transaction.join('\n'));
      assert.deepEqual(await gm.getAttributes(user), {
        cart: [{ id: 'a', quantity: 3 }],
        theme: 'light',
        locale: 'fr',
      });
      const again = await gm.merge({ guestToken: token, userId: 'user-1' });
      assert.equal(again.replayed, true);
      assert.equal((await gm.stats()).merged, 1);
    } finally {
      await storage.close();
      await pool.end();
    }
  });

  it('creates concurrent guests and their attributes in single statements, no BEGIN or COMMIT', async () => {
    const { url } = await newDatabase();
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const storage = await openPostgresStorage({ database: pool });
    const sent = recordStatements(pool);
    try {
      const gm = createGuestmode({ storage });
      // Clients opened before the recording starts would go unseen.
      await Promise.all(Array.from({ length: 4 }, () => pool.query('SELECT 1')));
      sent.length = 0;
      const guests = await Promise.all(
        Array.from({ length: 30 }, (_, i) => gm.createGuest({ cart: [i], theme: `t${i}` })),
      );
      assert.ok(sent.length > 0);
      assert.deepEqual(
        sent.filter((text) => text !== q.createGuests),
        [],
      );
      for (const [i, { token }] of guests.entries()) {
        const { attributes } = await gm.authenticateGuest(token);
        assert.deepEqual(
          attributes.map((a) => [a.name, a.value]),
          [
            ['cart', `[${i}]`],
            ['theme', `"t${i}"`],
          ],
        );
      }
      assert.equal((await gm.stats()).created, 30);
    } finally {
      await storage.close();
      await pool.end();
    }
  });

  it('writes new and existing attributes of concurrent guest writes in one group', async () => {
    const { url } = await newDatabase();
    const storage = await openPostgresStorage({ database: url });
    try {
      const gm = createGuestmode({ storage });
      const guests = await Promise.all(
        Array.from({ length: 10 }, (_, i) => gm.createGuest({ cart: [i] })),
      );
      // Same turn, so one group: every cart exists already, every theme is new.
      await Promise.all(
        guests.flatMap(({ token }, i) => [
          gm.setGuestAttribute(token, 'cart', [i, i]),
          gm.setGuestAttribute(token, 'theme', `t${i}`),
        ]),
      );
      for (const [i, { token }] of guests.entries()) {
        const { attributes } = await gm.authenticateGuest(token);
        assert.deepEqual(
          attributes.map((a) => [a.name, a.value]),
          [
            ['cart', `[${i},${i}]`],
            ['theme', `"t${i}"`],
          ],
        );
      }
    } finally {
      await storage.close();
    }
  });

  it('leaves a quarter of each attribute page free, for carts rewritten on their own page', async () => {
    const { url } = await newDatabase();
    const client = await migratedClient(url);
    try {
      const { rows } = await client.query<{ reloptions: string[] | null }>(
        "SELECT reloptions FROM pg_class WHERE relname = 'gm_attributes'",
      );
      assert.deepEqual(rows[0]!.reloptions, ['fillfactor=75']);
    } finally {
      await client.end();
    }
  });

  it('checks its options, naming the one that is wrong', async () => {
    const { url } = await newDatabase();
    const cases: [unknown, RegExp][] = [
      [{ database: 'mysql://x' }, /^options\.database: /],
      [{ database: url, maxConnections: 0 }, /^options\.maxConnections: /],
      [{ database: url, maxConnections: 1 }, /^options\.maxConnections: must be an integer from 2/],
      [{ database: new pg.Pool({ max: 1 }) }, /^options\.database: a pg\.Pool needs max 2/],
      [{ database: url, preparedStatements: 'no' }, /^options\.preparedStatements: /],
      [{ database: `${url}?prepared_statements=off` }, /prepared_statements\): must be true/],
      [{ database: url, poolSize: 3 }, /^options\.poolSize: unknown option/],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(
        openPostgresStorage(options as Parameters<typeof openPostgresStorage>[0]),
        (error: unknown) => error instanceof TypeError && message.test(error.message),
      );
    }
  });

  it('keeps the creation limit windows of a database whose limiter made its own table', async () => {
    const { url } = await newDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // A database as releases before the table became a schema step left it: the limiter
      // created the table on its first count, and a window is open.
      const before = POSTGRES_MIGRATIONS.length - 1;
      await migratePostgres(client, POSTGRES_MIGRATIONS.slice(0, before), {
        lockKey: MIGRATION_LOCK,
      });
      await client.query(
        `CREATE TABLE gm_rate_limits (key varchar(255) PRIMARY KEY,
           points integer NOT NULL DEFAULT 0, expire bigint)`,
      );
      await client.query("INSERT INTO gm_rate_limits VALUES ('guest:192.0.2.7', 1, $1)", [
        Date.now() + 60_000,
      ]);
    } finally {
      await client.end();
    }
    const gm = createGuestmode({
      storage: await openPostgresStorage({ database: url }),
      guestCreationLimit: { max: 2, window: '1m' },
      purge: { enabled: false },
    });
    try {
      await gm.limitGuestCreation('192.0.2.7');
      await assert.rejects(gm.limitGuestCreation('192.0.2.7'), { code: 'rate_limited' });
    } finally {
      await gm.close();
    }
  });

  it('seeds the funnel counters from the rows already there when it upgrades the schema', async () => {
    const { url } = await newDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // A database as the previous version left it: counted from the rows, no funnel counters.
      await migratePostgres(client, POSTGRES_MIGRATIONS.slice(0, 2), { lockKey: MIGRATION_LOCK });
      const now = Date.now();
      const day = 86_400_000;
      const guest = (i: number, expiresAt: number, mergedInto: string | null) =>
        client.query(
          `INSERT INTO gm_guests (id, secret_hash, created_at, expires_at, merged_into)
           VALUES ($1, '\\x00', $2, $3, $4)`,
          [`guest-${i}`, now - day, expiresAt, mergedInto],
        );
      for (let i = 0; i < 7; i++) await guest(i, now + day, null); // active
      for (let i = 7; i < 10; i++) await guest(i, now + day, 'user'); // merged
      for (let i = 10; i < 12; i++) await guest(i, now - 1, null); // expired, not yet purged
      await client.query(`UPDATE gm_counters SET value = CASE name
          WHEN 'purged_expired' THEN 5 WHEN 'purged_merged' THEN 4 WHEN 'deleted' THEN 2 END`);
    } finally {
      await client.end();
    }
    const storage = await openPostgresStorage({ database: url });
    try {
      assert.deepEqual(await storage.stats(Date.now()), {
        created: 12 + 5 + 4 + 2,
        merged: 3 + 4,
        expired: 5 + 2,
        active: 7,
      });
    } finally {
      await storage.close();
    }
  });

  it('probes the attributes by owner before the tables are analyzed, at any size, also when purging', async () => {
    const { url } = await newDatabase();
    const client = await migratedClient(url);
    try {
      // A freshly filled store, as right after a deployment: rows, but no statistics yet, so the
      // planner assumes 200 distinct owners and a join over every attribute row looks cheap.
      await client.query(`INSERT INTO gm_guests (id, secret_hash, created_at, expires_at)
        SELECT 'guest-' || i, '\\x00', 0, 1 FROM generate_series(1, 20000) i`);
      await client.query(`INSERT INTO gm_attributes (owner, name, value, size, updated_at)
        SELECT 'g:guest-' || i, 'cart', '[1]', 3, 0 FROM generate_series(1, 20000) i`);
      const { rows } = await client.query<{ n: number }>(
        `SELECT COUNT(*)::int AS n FROM pg_stats WHERE tablename = 'gm_attributes'`,
      );
      assert.equal(rows[0]!.n, 0, 'the attributes must not be analyzed yet');
      const ids = Array.from({ length: 50 }, (_, i) => `guest-${i * 400 + 1}`);
      const statements = [
        { name: 'guestsWithAttributes', ids },
        { name: 'attributeSizes', ids: ids.map((id) => `g:${id}`) },
      ] as const;
      for (const { name, ids: values } of statements) {
        for (const mode of ['force_custom_plan', 'force_generic_plan']) {
          await client.query(`SET plan_cache_mode = ${mode}`);
          await client.query(`PREPARE probe(text[]) AS ${q[name]}`);
          const literal = client.escapeLiteral(`{${values.join(',')}}`);
          const plan = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE probe(${literal})`);
          await client.query('DEALLOCATE probe');
          const scans = relationScans(plan.rows[0]['QUERY PLAN'][0].Plan);
          assert.ok(
            !scans.includes('Seq Scan gm_attributes'),
            `${name} (${mode}) scans every attribute: ${scans.join(', ')}`,
          );
        }
      }
      // The purge's batches, as the purge runs them: in a transaction after purgeJoins.
      for (const [name, sql] of [
        ['purgeBatch', q.purgeBatch],
        ['purge with events', PURGE_WITH_IDS],
      ] as const) {
        for (const mode of ['force_custom_plan', 'force_generic_plan']) {
          await client.query('BEGIN');
          await client.query(`SET LOCAL plan_cache_mode = ${mode}`);
          await client.query(q.purgeJoins);
          await client.query(`PREPARE purge(bigint, int) AS ${sql}`);
          const plan = await client.query('EXPLAIN (FORMAT JSON) EXECUTE purge(2, 1000)');
          await client.query('ROLLBACK');
          await client.query('DEALLOCATE purge');
          const scans = relationScans(plan.rows[0]['QUERY PLAN'][0].Plan);
          assert.deepEqual(
            scans.filter((scan) => scan.startsWith('Seq Scan')),
            [],
            `${name} (${mode}) scans a whole table: ${scans.join(', ')}`,
          );
        }
      }
    } finally {
      await client.end();
    }
  });
});

/** The scans of a JSON plan, as "<node type> <relation>". */
function relationScans(node: {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: unknown[];
}): string[] {
  const own = node['Relation Name'] ? [`${node['Node Type']} ${node['Relation Name']}`] : [];
  return own.concat(...(node.Plans ?? []).map((child) => relationScans(child as typeof node)));
}
