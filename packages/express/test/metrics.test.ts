// The Prometheus endpoint of an Express app: behind a token, with the engine's counts (a merge
// made in the sign-in callback is counted by the engine, as one made by the service is) and the
// process's own metrics.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { guestmodeMetrics } from '../src/index.js';
import {
  Browser,
  type Fixture,
  METRICS_TOKEN,
  setAttribute,
  signIn,
  startFixture,
} from './helpers.js';

let f: Fixture;
before(async () => {
  f = await startFixture();
});
after(async () => {
  await f?.close();
});

/** One sample's value from the text format, or `undefined`. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

test('/metrics needs the token, then shows the merge made at the callback and process metrics', async () => {
  for (const authorization of [undefined, 'Bearer wrong-token-of-some-length', 'Basic Og==']) {
    const res = await fetch(`${f.url}/metrics`, {
      headers: authorization ? { authorization } : {},
    });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unauthorized');
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
  }

  const browser = new Browser();
  await setAttribute(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
  await signIn(browser, f.url, 'alice', 'alice password 1');

  const res = await fetch(`${f.url}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.equal(sample(text, 'guestmode_merge_duration_seconds_count'), 1);
  assert.equal(sample(text, 'guestmode_guests_merged_total'), 1);
  assert.ok(sample(text, 'guestmode_guests_created_total')! >= 1);
  assert.ok(sample(text, 'nodejs_heap_size_used_bytes')! > 0, 'heap');
  assert.ok(sample(text, 'nodejs_eventloop_lag_seconds') !== undefined, 'event-loop lag');
  assert.match(text, /# TYPE nodejs_gc_duration_seconds histogram/);

  // Basic with the token as the password works too (Prometheus' basic_auth).
  const basic = Buffer.from(`prometheus:${METRICS_TOKEN}`).toString('base64');
  const viaBasic = await fetch(`${f.url}/metrics`, {
    headers: { authorization: `Basic ${basic}` },
  });
  assert.equal(viaBasic.status, 200);
  await viaBasic.arrayBuffer();
});

test('guestmodeMetrics checks its options once, naming them', async () => {
  const engine = createGuestmode({
    storage: await openSqliteStorage({ database: ':memory:' }),
    purge: { enabled: false },
  });
  try {
    assert.throws(() => guestmodeMetrics({ guestmode: engine } as never), /options\.token/);
    assert.throws(() => guestmodeMetrics({ guestmode: engine, token: 'short' }), /options\.token/);
    assert.throws(
      () => guestmodeMetrics({ guestmode: engine, token: METRICS_TOKEN, open: true } as never),
      /options\.open: unknown option/,
    );
    assert.throws(
      () => guestmodeMetrics({ guestmode: {} as never, token: METRICS_TOKEN }),
      /guestmode/,
    );
  } finally {
    await engine.close();
  }
});
