// What an app on the Pages Router adapter gets from the engine without writing any of it: a limit
// on new guests per client address (429 with Retry-After and RateLimit-* fields, on by default),
// with X-Forwarded-For believed only from trusted proxies, and the engine's own purge.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGuestmodeNext } from '../src/index.js';
import { Browser, METRICS_TOKEN, put, signIn, startFixture } from './helpers.js';

/** Polls `done` every 10 ms, at most 1,000 times (the testkit's root pulls in server-only types). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(done(), 'timed out');
}

test('fresh browsers from one address get 429 with Retry-After past the default budget', async () => {
  const f = await startFixture();
  try {
    for (let i = 0; i < 60; i++) {
      const res = await put(new Browser(), f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
      assert.equal(res.status, 200, `guest ${i + 1}`);
      await res.arrayBuffer();
    }
    const browser = new Browser();
    const refused = await put(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
    assert.equal(refused.status, 429);
    assert.equal(
      ((await refused.json()) as { error: { code: string } }).error.code,
      'rate_limited',
    );
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.equal(refused.headers.get('ratelimit-limit'), '60');
    assert.equal(refused.headers.get('ratelimit-remaining'), '0');
    assert.equal(browser.get(f.url, 'guestmode'), undefined);
    assert.equal((await f.engine.stats()).created, 60);
  } finally {
    await f.close();
  }
});

test('X-Forwarded-For names the client only through trusted proxies', async () => {
  const limited = { guestCreationLimit: { max: 1, window: '1m' } } as const;
  const trusting = await startFixture({ trustProxy: 1 }, limited);
  const plain = await startFixture({}, limited);
  try {
    const statuses = async (url: string) => {
      const out: number[] = [];
      for (const address of ['198.51.100.1', '198.51.100.2']) {
        const browser = new Browser();
        const res = await browser.fetch(`${url}/api/guestmode/attributes/theme`, {
          method: 'PUT',
          headers: {
            'sec-fetch-site': 'same-origin',
            'content-type': 'application/json',
            'x-forwarded-for': address,
          },
          body: '"dark"',
        });
        await res.arrayBuffer();
        out.push(res.status);
      }
      return out;
    };
    assert.deepEqual(await statuses(trusting.url), [200, 200]);
    // Without a trusted proxy the header is the client's own claim: both count as 127.0.0.1.
    assert.deepEqual(await statuses(plain.url), [200, 429]);
  } finally {
    await trusting.close();
    await plain.close();
  }
  assert.throws(
    () =>
      createGuestmodeNext({
        ...({} as Parameters<typeof createGuestmodeNext>[0]),
        guestmode: trusting.engine,
        logtoClient: { createNodeClientFromNextApi() {} } as never,
        logto: trusting.logto,
        trustProxy: true as never,
      }),
    /options\.trustProxy/,
  );
});

test('expired guests are purged by the engine, without any call from the app', async () => {
  let clock = Date.now();
  const purged: number[] = [];
  const f = await startFixture(
    {},
    {
      now: () => clock,
      guestTtl: '1h',
      purge: { intervalMs: 10, onPurged: (deleted) => purged.push(deleted) },
    },
  );
  try {
    const browser = new Browser();
    assert.equal((await put(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }])).status, 200);
    clock += 2 * 3_600_000;
    await until(() => purged.length > 0);
    assert.deepEqual(purged, [1]);
    const stats = await f.engine.stats();
    assert.deepEqual([stats.active, stats.expired], [0, 1]);
  } finally {
    await f.close();
  }
});

test('the metrics handler needs the token, then shows the merge made at the callback', async () => {
  const f = await startFixture();
  try {
    const refused = await fetch(`${f.url}/api/metrics`);
    assert.equal(refused.status, 401);
    assert.equal(
      ((await refused.json()) as { error: { code: string } }).error.code,
      'unauthorized',
    );

    const browser = new Browser();
    await put(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
    await signIn(browser, f.url, 'alice', 'alice password 1');
    const res = await fetch(`${f.url}/api/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^guestmode_merge_duration_seconds_count 1$/m);
    assert.match(text, /^guestmode_guests_merged_total 1$/m);
    assert.match(text, /^nodejs_heap_size_used_bytes \d+/m);
  } finally {
    await f.close();
  }
});

test('the guest API exports and deletes: a guest itself, or a signed-in user with their merges', async () => {
  const f = await startFixture();
  try {
    const guest = new Browser();
    await put(guest, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
    const exported = await guest.fetch(`${f.url}/api/guestmode/export`);
    assert.deepEqual(((await exported.json()) as { attributes: unknown }).attributes, {
      cart: [{ id: 'b1', quantity: 1 }],
    });
    const crossSite = await guest.fetch(`${f.url}/api/guestmode/profile`, {
      method: 'DELETE',
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(crossSite.status, 403);
    await crossSite.arrayBuffer();
    const deleted = await guest.fetch(`${f.url}/api/guestmode/profile`, {
      method: 'DELETE',
      headers: { 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(deleted.status, 200);
    assert.equal(((await deleted.json()) as { kind: string }).kind, 'none');
    assert.equal(guest.get(f.url, 'guestmode'), undefined);

    const user = new Browser();
    await put(user, f.url, 'theme', 'dark');
    await signIn(user, f.url, 'alice', 'alice password 1');
    const mine = (await (await user.fetch(`${f.url}/api/guestmode/export`)).json()) as {
      kind: string;
      merges: unknown[];
    };
    assert.deepEqual([mine.kind, mine.merges.length], ['user', 1]);
    const erased = await user.fetch(`${f.url}/api/guestmode/profile`, {
      method: 'DELETE',
      headers: { 'sec-fetch-site': 'same-origin' },
    });
    assert.deepEqual(((await erased.json()) as { attributes: unknown }).attributes, {});
    assert.deepEqual((await f.engine.exportUser(f.users.alice)).merges, []);
  } finally {
    await f.close();
  }
});
