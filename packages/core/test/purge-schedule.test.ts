// The engine's own purge: on by default, on a timer that stops with close(), never two rounds at
// once, and on one PostgreSQL database shared by several engines only one of them purges a round.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createGuestmode, type GuestStorage } from '@guestmode/core';
import { openPostgresStorage } from '@guestmode/core/postgres';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { createTestDatabase, type TestDatabase, waitFor } from '@guestmode/testkit';
import pg from 'pg';

const DAY = 86_400_000;

describe('the purge schedule', () => {
  it('refuses bad purge options, naming them', async () => {
    const storage = await openSqliteStorage({ database: ':memory:' });
    try {
      const cases: [unknown, RegExp][] = [
        [{ intervalMs: 0 }, /TypeError: options\.purge\.intervalMs: /],
        [{ intervalMs: 1.5 }, /TypeError: options\.purge\.intervalMs: /],
        [{ enabled: 'no' }, /TypeError: options\.purge\.enabled: /],
        [{ every: 10 }, /TypeError: options\.purge\.every: unknown option/],
        [{ onError: 'log' }, /TypeError: options\.purge\.onError: /],
        ['hourly', /TypeError: options\.purge: must be an object/],
      ];
      for (const [purge, message] of cases) {
        assert.throws(() => createGuestmode({ storage, purge } as never), message);
      }
    } finally {
      await storage.close();
    }
  });

  it('removes expired guests without any call from the app, and stops with close()', async () => {
    let clock = Date.now();
    const purged: number[] = [];
    const engine = createGuestmode({
      storage: await openSqliteStorage({ database: ':memory:' }),
      now: () => clock,
      purge: { intervalMs: 5, onPurged: (deleted) => purged.push(deleted) },
    });
    const { token } = await engine.createGuest({ cart: [] });
    clock += 31 * DAY;
    await waitFor(() => purged.length > 0, { timeoutMs: 10_000 });
    assert.deepEqual(purged, [1]);
    assert.equal((await engine.stats()).expired, 1);
    assert.equal(await engine.validateGuest(token), null);
    await engine.close();
  });

  it('never runs two rounds at once, and close() waits for the running one', async () => {
    const inner = await openSqliteStorage({ database: ':memory:' });
    let running = 0;
    let most = 0;
    let rounds = 0;
    const storage: GuestStorage = Object.assign(Object.create(inner) as GuestStorage, {
      purgePolicy: inner.purgePolicy,
      async purgeExpired(now: number, batchSize: number) {
        running++;
        rounds++;
        most = Math.max(most, running);
        // Longer than several intervals: the timer fires meanwhile and must not start a round.
        await new Promise((resolve) => setTimeout(resolve, 40));
        running--;
        return inner.purgeExpired(now, batchSize);
      },
      close: () => inner.close(),
    });
    const engine = createGuestmode({ storage, purge: { intervalMs: 2 } });
    await waitFor(() => rounds >= 3, { timeoutMs: 10_000 });
    await engine.close();
    assert.equal(most, 1);
    assert.equal(running, 0);
  });

  it('is off with enabled: false', async () => {
    let clock = Date.now();
    const engine = createGuestmode({
      storage: await openSqliteStorage({ database: ':memory:' }),
      now: () => clock,
      purge: { enabled: false, intervalMs: 1 },
    });
    await engine.createGuest({});
    clock += 31 * DAY;
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal((await engine.stats()).expired, 1);
    // Still there to purge by hand: counted expired, not yet deleted.
    assert.deepEqual(await engine.purgeRound(), { deleted: 1, skipped: false });
    await engine.close();
  });
});

describe('several engines on one PostgreSQL database', () => {
  let database: TestDatabase | undefined;
  after(async () => {
    await database?.drop();
  });

  it('purge in turns: one engine purges a round, the others skip it', async () => {
    database = await createTestDatabase();
    let clock = Date.now();
    const open = async () =>
      createGuestmode({
        storage: await openPostgresStorage({ database: database!.url }),
        now: () => clock,
        purge: { enabled: false },
      });
    const engines = [await open(), await open(), await open()];
    try {
      const count = 3000;
      for (let i = 0; i < count; i += 100) {
        await Promise.all(Array.from({ length: 100 }, () => engines[0]!.createGuest({ n: 1 })));
      }
      clock += 31 * DAY;

      // While another holder has the lock, every engine skips its round.
      const holder = new pg.Client({ connectionString: database.url });
      await holder.connect();
      await holder.query("SELECT pg_advisory_lock(hashtext('guestmode:purge'))");
      const held = await Promise.all(engines.map((engine) => engine.purgeRound()));
      assert.deepEqual(held, Array(3).fill({ deleted: 0, skipped: true }));
      await holder.end();

      const rounds = await Promise.all(engines.map((engine) => engine.purgeRound()));
      const purging = rounds.filter((round) => round.deleted > 0);
      assert.equal(purging.length, 1, JSON.stringify(rounds));
      assert.equal(purging[0]!.deleted, count);
      assert.equal((await engines[1]!.stats()).expired, count);
    } finally {
      await Promise.all(engines.map((engine) => engine.close()));
    }
  });
});
