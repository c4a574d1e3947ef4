// What the Bookstore gets from the engine without writing any of it: expired guests purged on the
// engine's own timer, and a limit on new guests per address (429 with Retry-After) by default.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '@guestmode/testkit';
import { type BookstoreApp, type BookstoreConfig, createBookstoreApp } from '../src/app.js';

interface Running {
  readonly url: string;
  readonly bookstore: BookstoreApp;
  close(): Promise<void>;
}

const dataDirs: string[] = [];
after(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

/** The Bookstore on 127.0.0.1:0; the provider is never contacted by a visitor's requests. */
async function start(engine?: BookstoreConfig['engine']): Promise<Running> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bookstore-library-'));
  dataDirs.push(dataDir);
  let handler: Parameters<typeof createServer>[1] = (_req, res) => res.end();
  const server: Server = createServer((req, res) => handler!(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  const url = `http://127.0.0.1:${address.port}`;
  const bookstore = await createBookstoreApp({
    logtoEndpoint: 'http://127.0.0.1:9',
    appId: 'app',
    appSecret: 'secret',
    resource: 'https://api.bookstore.local',
    baseUrl: url,
    sessionSecret: 'a test session secret that is long enough',
    dataDir,
    ...(engine ? { engine } : {}),
  });
  handler = bookstore.app;
  return {
    url,
    bookstore,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await bookstore.close();
    },
  };
}

/** One `/cart/add` from a fresh browser (no cookies): creates a guest if allowed. */
async function addToCart(url: string): Promise<Response> {
  const res = await fetch(`${url}/cart/add`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'sec-fetch-site': 'same-origin',
    },
    body: 'book=i-am-a-cat',
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return res;
}

let app: Running;
before(async () => {
  app = await start();
});
after(async () => {
  await app?.close();
});

test('fresh cookie jars from one address get 429 with Retry-After past the default budget', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 60; i++) {
    const res = await addToCart(app.url);
    statuses.push(res.status);
    assert.match(res.headers.get('set-cookie') ?? '', /guestmode=gm_/);
  }
  assert.deepEqual(new Set(statuses), new Set([303]));
  const refused = await addToCart(app.url);
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  assert.equal(refused.headers.get('ratelimit-limit'), '60');
  assert.equal(refused.headers.get('ratelimit-remaining'), '0');
  assert.equal(refused.headers.get('set-cookie'), null);
  assert.equal((await app.bookstore.guestmode.stats()).created, 60);
});

test('expired guests are purged by the engine, without any call from the app', async () => {
  let clock = Date.now();
  const purged: number[] = [];
  const own = await start({
    now: () => clock,
    guestTtl: '1h',
    purge: { intervalMs: 10, onPurged: (deleted) => purged.push(deleted) },
  });
  try {
    const res = await addToCart(own.url);
    assert.equal(res.status, 303);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    clock += 2 * 3_600_000;
    await waitFor(() => purged.length > 0, { timeoutMs: 10_000 });
    assert.deepEqual(purged, [1]);
    const stats = await own.bookstore.guestmode.stats();
    assert.deepEqual([stats.active, stats.expired], [0, 1]);
    // The browser's old cookie no longer finds a guest: the page shows an empty cart.
    const page = await fetch(own.url, { headers: { cookie } });
    assert.match(page.headers.get('set-cookie') ?? '', /guestmode=;/);
    await page.arrayBuffer();
  } finally {
    await own.close();
  }
});
