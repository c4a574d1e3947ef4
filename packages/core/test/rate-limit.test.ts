// The guest-creation limit every adapter and the service share: per client key, on by default,
// refusals with Retry-After and RateLimit-* fields, bounded memory, and one budget for all the
// engines on one PostgreSQL database.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  createGuestmode,
  GuestmodeError,
  MemoryCreationLimiter,
  toErrorResponse,
} from '@guestmode/core';
import { openPostgresStorage } from '@guestmode/core/postgres';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { createTestDatabase, type TestDatabase } from '@guestmode/testkit';

async function refusal(promise: Promise<unknown>): Promise<GuestmodeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof GuestmodeError, `expected a refusal, got ${String(error)}`);
  return error;
}

describe('the guest-creation limit', () => {
  it('allows 60 guests a minute per address by default, then answers 429 with its headers', async () => {
    let clock = 1_000_000;
    const engine = createGuestmode({
      storage: await openSqliteStorage({ database: ':memory:' }),
      now: () => clock,
      purge: { enabled: false },
    });
    try {
      for (let i = 0; i < 60; i++) await engine.limitGuestCreation('192.0.2.1');
      const error = await refusal(engine.limitGuestCreation('192.0.2.1'));
      const answer = toErrorResponse(error);
      assert.equal(answer.status, 429);
      assert.equal(answer.body.error.code, 'rate_limited');
      assert.equal(answer.headers['retry-after'], '60');
      assert.equal(answer.headers['ratelimit-limit'], '60');
      assert.equal(answer.headers['ratelimit-remaining'], '0');
      assert.equal(answer.headers['ratelimit-reset'], '60');
      // Another address has its own budget; the window's end gives a fresh one.
      await engine.limitGuestCreation('192.0.2.2');
      clock += 60_000;
      await engine.limitGuestCreation('192.0.2.1');
    } finally {
      await engine.close();
    }
  });

  it('can be configured or switched off, and refuses bad settings by name', async () => {
    const storage = await openSqliteStorage({ database: ':memory:' });
    const off = createGuestmode({ storage, guestCreationLimit: false, purge: { enabled: false } });
    for (let i = 0; i < 200; i++) await off.limitGuestCreation('192.0.2.1');
    const two = createGuestmode({ storage, guestCreationLimit: { max: 2, window: '10s' } });
    await two.limitGuestCreation('k');
    await two.limitGuestCreation('k');
    assert.match(
      (await refusal(two.limitGuestCreation('k'))).headers['retry-after'] ?? '',
      /^(9|10)$/,
    );
    for (const [limit, message] of [
      [{ max: 0 }, /TypeError: options\.guestCreationLimit\.max: /],
      [{ window: '10ms' }, /TypeError: options\.guestCreationLimit\.window: /],
      [{ per: '1m' }, /TypeError: options\.guestCreationLimit\.per: unknown option/],
      [true, /TypeError: options\.guestCreationLimit: must be an object/],
    ] as const) {
      assert.throws(
        () => createGuestmode({ storage, guestCreationLimit: limit } as never),
        message,
      );
    }
    await two.close();
  });

  it('keeps a bounded number of client windows in memory', () => {
    const limiter = new MemoryCreationLimiter({ max: 1, windowMs: 60_000 }, () => 1_000, 100);
    for (let i = 0; i < 1_000; i++) limiter.takeNow(`198.51.${i >> 8}.${i & 255}`);
    assert.ok(limiter.size <= 100, `tracked ${limiter.size}`);
    assert.throws(() => limiter.takeNow('198.51.3.231'), /Too many new guests/);
  });
});

describe('one budget for every engine on a PostgreSQL database', () => {
  let database: TestDatabase | undefined;
  after(async () => {
    await database?.drop();
  });

  it('three engines together allow one budget per address', async () => {
    database = await createTestDatabase();
    const open = async () =>
      createGuestmode({
        storage: await openPostgresStorage({ database: database!.url }),
        guestCreationLimit: { max: 10, window: '1m' },
        purge: { enabled: false },
      });
    const engines = [await open(), await open(), await open()];
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          engines[i % 3]!.limitGuestCreation('203.0.113.9').then(
            () => 'allowed',
            (error: unknown) => (error as GuestmodeError).code,
          ),
        ),
      );
      assert.equal(outcomes.filter((o) => o === 'allowed').length, 10);
      assert.equal(outcomes.filter((o) => o === 'rate_limited').length, 20);
      const error = await refusal(engines[2]!.limitGuestCreation('203.0.113.9'));
      assert.ok(Number(error.headers['retry-after']) >= 1);
      // Another address still has its whole budget.
      await engines[1]!.limitGuestCreation('203.0.113.10');
      // The purge round sweeps finished windows without disturbing live ones.
      await engines[0]!.purgeRound();
      await refusal(engines[0]!.limitGuestCreation('203.0.113.9'));
    } finally {
      await Promise.all(engines.map((engine) => engine.close()));
    }
  });
});
