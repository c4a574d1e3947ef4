// The engine counts merges (with their latency), refusals and purged guests itself, so every
// way of using it reports the same; the funnel totals come from the database.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

test('merges, replays, refusals and purges are counted by the engine', async () => {
  let clock = Date.now();
  const engine = createGuestmode({
    storage: await openSqliteStorage({ database: ':memory:' }),
    now: () => clock,
    purge: { enabled: false },
    guestCreationLimit: { max: 1, window: '1m' },
  });
  try {
    const { token } = await engine.createGuest({ cart: [] });
    await engine.merge({ guestToken: token, userId: 'u1' });
    const replay = await engine.merge({ guestToken: token, userId: 'u1' });
    assert.equal(replay.replayed, true);
    await assert.rejects(engine.merge({ guestToken: token, userId: 'u2' }), {
      code: 'guest_already_merged',
    });
    await engine.limitGuestCreation('192.0.2.1');
    await assert.rejects(engine.limitGuestCreation('192.0.2.1'), { code: 'rate_limited' });
    await engine.createGuest({ theme: 'dark' });
    clock += 31 * 86_400_000;
    assert.equal((await engine.purgeRound()).deleted, 2);

    const text = await engine.metrics.render();
    assert.equal(
      sample(text, 'guestmode_merge_duration_seconds_count'),
      1,
      'a replay is not a merge',
    );
    assert.equal(sample(text, 'guestmode_refused_total{code="guest_already_merged"}'), 1);
    assert.equal(sample(text, 'guestmode_refused_total{code="rate_limited"}'), 1);
    assert.equal(sample(text, 'guestmode_guests_purged_total'), 2);
    assert.equal(sample(text, 'guestmode_guests_created_total'), 2);
    assert.equal(sample(text, 'guestmode_guests_merged_total'), 1);
    assert.equal(sample(text, 'guestmode_guests_expired_total'), 1);
    assert.equal(sample(text, 'guestmode_guests_active'), 0);
    // Process metrics only once asked for (the metrics handlers do).
    assert.equal(sample(text, 'nodejs_heap_size_used_bytes'), undefined);
    engine.metrics.includeProcessMetrics();
    engine.metrics.includeProcessMetrics();
    assert.ok(sample(await engine.metrics.render(), 'nodejs_heap_size_used_bytes')! > 0);
  } finally {
    await engine.close();
  }
});
