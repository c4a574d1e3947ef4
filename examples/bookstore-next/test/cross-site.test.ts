// Cross-site attacks on the Next.js Bookstore (production build, `next start`) in headless
// Chromium: two attacker sites on other loopback addresses (127.0.0.2 and 127.0.0.3, other sites
// than the Bookstore on 127.0.0.1) try to create or replace a guest, merge a guest silently at
// sign-in, and sign the visitor out. No request another site can cause may do any of that.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import {
  type AttackerSite,
  autoSubmitForm,
  forcedNavigation,
  freePort,
  launchBrowser,
  randomId,
  startAttackerSite,
  visitAttack,
  watchRequests,
} from '@guestmode/testkit';
import {
  guestCookie as cookieOf,
  createAccount,
  newPage,
  signInWithPassword,
} from '@guestmode/testkit/bookstore';
import type BetterSqlite3 from 'better-sqlite3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { APP_DIR, type NextDemo, pickBuild, startNextDemo } from '../src/index.js';

// The driver this Node.js can load (better-sqlite3 13 segfaults on Node 20).
const { Database } = loadSqliteDriver();

const CART_API = '/api/guestmode/attributes/cart';
/** A form field whose `name=value` in a text/plain post is this JSON cart. */
const JSON_CART_FIELD = { '[{"id":"moby-dick","quantity":1,"x":"': '"}]' };

let browser: Browser;
let demo: NextDemo;
let dataDir: string;
let attackerA: AttackerSite;
let attackerB: AttackerSite;
let db: BetterSqlite3.Database | undefined;

before(
  async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bookstore-next-cross-site-'));
    const [port, launched, a, b] = await Promise.all([
      freePort(),
      launchBrowser(),
      startAttackerSite('127.0.0.2'),
      startAttackerSite('127.0.0.3'),
    ]);
    browser = launched;
    attackerA = a;
    attackerB = b;
    demo = await startNextDemo({
      dataDir,
      test: { appPort: port },
      ...pickBuild(APP_DIR, '.tmp/next-e2e', '.tmp/next-cross-site'),
      log: (line) => process.stderr.write(`${line}\n`),
    });
  },
  { timeout: 300_000 },
);

after(async () => {
  db?.close();
  await browser?.close();
  await attackerA?.close();
  await attackerB?.close();
  await demo?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/**
 * The app's database, read directly: its engine runs in the `next start` process and opens the
 * file on the first request that needs it.
 */
function database(): BetterSqlite3.Database {
  db ??= new Database(join(dataDir, 'guestmode.db'), { readonly: true, fileMustExist: true });
  return db;
}

function guestCount(): number {
  return (database().prepare('SELECT COUNT(*) AS n FROM gm_guests').get() as { n: number }).n;
}

function cartOf(owner: string): unknown {
  const row = database()
    .prepare("SELECT value FROM gm_attributes WHERE owner = ? AND name = 'cart'")
    .get(owner) as { value: string } | undefined;
  return row ? JSON.parse(row.value) : undefined;
}

/** The cart of the guest `token` names, or `null` once that guest is merged or gone. */
function guestCart(token: string): unknown {
  const id = /^gm_([\w-]+)\./.exec(token)?.[1];
  assert.ok(id, 'a guest credential');
  const row = database().prepare('SELECT merged_into FROM gm_guests WHERE id = ?').get(id) as
    | { merged_into: string | null }
    | undefined;
  return row && row.merged_into === null ? cartOf(`g:${id}`) : null;
}

const userCart = (sub: string) => cartOf(`u:${sub}`);

/** The Bookstore's guest cookie (the provider, on another port of 127.0.0.1, has its own). */
async function guestCookie(context: BrowserContext): Promise<string | undefined> {
  return (await cookieOf(context, demo.url))?.value;
}

/** Same-origin "Add to cart", as the visitor clicks it; waits until the server stored it. */
async function addToCart(page: Page, index: number) {
  await page.goto(demo.url);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(CART_API) && r.request().method() === 'PUT'),
    page.getByRole('button', { name: 'Add to cart' }).nth(index).click(),
  ]);
}

const createUser = () => createAccount(demo.idp);

/** Signs in from the Bookstore's own link, which also opens a provider session. */
async function signIn(page: Page, username: string) {
  await page.goto(demo.url);
  await signInWithPassword(page, demo.url, username);
}

/** `/api/logto/user` as the Bookstore's own pages read it (a same-origin fetch). */
async function isSignedIn(page: Page): Promise<boolean> {
  await page.goto(demo.url);
  const user = await page.evaluate(async () => (await fetch('/api/logto/user')).json());
  return (user as { isAuthenticated?: unknown }).isAuthenticated === true;
}

test("the page that shows the visitor's cart is never cached: Cache-Control: no-store, Vary: Cookie", async () => {
  const { context, page } = await newPage(browser);
  await addToCart(page, 0);
  const res = await page.goto(demo.url);
  assert.equal(res?.status(), 200);
  assert.equal(res?.headers()['cache-control'], 'no-store');
  assert.match(res?.headers().vary ?? '', /\bCookie\b/i);
  await context.close();
});

test('a plain cross-site form post or fetch to the cart API creates no guest and keeps the guest cookie', async () => {
  const { context, page } = await newPage(browser);
  await addToCart(page, 0);
  const before = await guestCookie(context);
  assert.ok(before, 'the visitor is a guest');
  const created = guestCount();
  const wire = watchRequests(context, demo.url);
  const id = randomId(4);

  // A form can only post; text/plain carries a JSON body.
  await visitAttack(
    page,
    attackerA.page(
      `/plain-${id}`,
      autoSubmitForm(`${demo.url}${CART_API}`, JSON_CART_FIELD, { enctype: 'text/plain' }),
    ),
    [attackerA, attackerB],
  );
  const [post] = await wire.sent((r) => r.method === 'POST' && r.url.endsWith(CART_API));
  assert.ok(post, 'the form post reached the Bookstore');
  assert.equal(post.headers.origin, attackerA.url);
  assert.equal(post.headers['sec-fetch-site'], 'cross-site');
  assert.doesNotMatch(post.headers.cookie ?? '', /guestmode=/);
  assert.ok(post.status !== undefined && post.status >= 400 && post.status < 500, 'refused');

  // The write the app itself makes (PUT, JSON) from the attacker's page.
  await page.goto(attackerA.page(`/fetch-${id}`, '<!doctype html><title>offer</title>'));
  const outcome = await page.evaluate(async (url) => {
    try {
      const res = await fetch(url, {
        method: 'PUT',
        credentials: 'include',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ id: 'moby-dick', quantity: 1 }]),
      });
      return `answered ${res.status}`;
    } catch {
      return 'blocked';
    }
  }, `${demo.url}${CART_API}`);
  assert.equal(outcome, 'blocked', 'the browser does not let the page read an answer');
  const puts = await wire.sent((r) => r.method === 'PUT' && r.url.endsWith(CART_API));
  assert.ok(
    puts.every((r) => r.status === undefined || r.status >= 400),
    'no cross-site PUT is accepted (its CORS preflight fails, or it is refused)',
  );

  assert.equal(guestCount(), created, 'no guest created');
  assert.equal(await guestCookie(context), before, 'the guest cookie is not replaced');
  assert.deepEqual(guestCart(before), [{ id: 'i-am-a-cat', quantity: 1 }]);
  await context.close();
});

test('a 307 bounce through a second site (Origin: null) creates no guest and keeps the guest cookie', async () => {
  const { context, page } = await newPage(browser);
  await addToCart(page, 0);
  const before = await guestCookie(context);
  assert.ok(before, 'the visitor is a guest');
  const created = guestCount();
  const wire = watchRequests(context, demo.url);
  const id = randomId(4);
  const bounce = attackerB.redirect(`/bounce-${id}`, `${demo.url}${CART_API}`, 307);

  await visitAttack(
    page,
    attackerA.page(
      `/start-${id}`,
      autoSubmitForm(bounce, JSON_CART_FIELD, { enctype: 'text/plain' }),
    ),
    [attackerA, attackerB],
  );

  const atB = attackerB.seen.find((r) => r.path === `/bounce-${id}`);
  assert.equal(atB?.method, 'POST');
  assert.equal(atB?.headers.origin, attackerA.url);
  const [post] = await wire.sent((r) => r.method === 'POST' && r.url.endsWith(CART_API));
  assert.ok(post, 'the bounced post reached the Bookstore');
  assert.equal(post.headers.origin, 'null');
  assert.equal(post.headers['sec-fetch-site'], 'cross-site');
  assert.doesNotMatch(post.headers.cookie ?? '', /guestmode=/);

  assert.equal(guestCount(), created, 'no guest created');
  assert.equal(await guestCookie(context), before, 'the guest cookie is not replaced');
  assert.deepEqual(guestCart(before), [{ id: 'i-am-a-cat', quantity: 1 }]);
  assert.ok(post.status !== undefined && post.status >= 400 && post.status < 500, 'refused');
  await context.close();
});

test('a forced navigation to sign-in with a provider session does not merge the guest silently', async () => {
  const { context, page } = await newPage(browser);
  const user = await createUser();
  await addToCart(page, 0);
  await signIn(page, user.username);
  assert.deepEqual(userCart(user.sub), [{ id: 'i-am-a-cat', quantity: 1 }]);
  // The Bookstore's session ends (expiry, another tab's sign-out); the provider's lives on.
  await context.clearCookies({ name: /^logto_/ });
  assert.equal(await isSignedIn(page), false);
  await addToCart(page, 1);
  const guest = await guestCookie(context);
  assert.ok(guest, 'a guest with a cart');
  const wire = watchRequests(context, demo.url);

  await visitAttack(
    page,
    attackerA.page(`/sign-in-${randomId(4)}`, forcedNavigation(`${demo.url}/api/logto/sign-in`)),
    [attackerA, attackerB],
  );
  // Wait for the round trip through the provider to end back on the Bookstore.
  await page.waitForURL((u) => u.origin === demo.url && !u.pathname.startsWith('/api/logto/'));

  const [start] = await wire.sent((r) => r.url === `${demo.url}/api/logto/sign-in`);
  assert.ok(start, 'the sign-in started');
  assert.equal(start.headers['sec-fetch-site'], 'cross-site');
  assert.match(start.headers.cookie ?? '', /guestmode=/, 'the Lax guest cookie goes with it');

  assert.deepEqual(userCart(user.sub), [{ id: 'i-am-a-cat', quantity: 1 }], 'not merged');
  assert.deepEqual(guestCart(guest), [{ id: 'kokoro', quantity: 1 }], 'the guest is intact');
  assert.equal(new URL(page.url()).pathname, '/merge', 'the user is asked on the Bookstore');
  await page.locator('form button[name="decision"][value="merge"]').waitFor();
  await page.locator('form button[name="decision"][value="discard"]').waitFor();
  await context.close();
});

test('the reproduced attack: a 307-planted guest and a forced sign-in put nothing in the account', async () => {
  const { context, page } = await newPage(browser);
  const user = await createUser();
  await addToCart(page, 0);
  await signIn(page, user.username);
  assert.deepEqual(userCart(user.sub), [{ id: 'i-am-a-cat', quantity: 1 }]);
  const id = randomId(4);
  const bounce = attackerB.redirect(`/plant-${id}`, `${demo.url}${CART_API}`, 307);

  await visitAttack(
    page,
    attackerA.page(
      `/plant-${id}`,
      autoSubmitForm(bounce, JSON_CART_FIELD, { enctype: 'text/plain' }),
    ),
    [attackerA, attackerB],
  );
  await visitAttack(
    page,
    attackerA.page(`/merge-${id}`, forcedNavigation(`${demo.url}/api/logto/sign-in`)),
    [attackerA, attackerB],
  );
  await page.waitForURL((u) => u.origin === demo.url && !u.pathname.startsWith('/api/logto/'));

  assert.deepEqual(
    userCart(user.sub),
    [{ id: 'i-am-a-cat', quantity: 1 }],
    "the attacker's book is not in the victim's account",
  );
  await context.close();
});

test('a forced GET of /api/logto/sign-out leaves a guest its cookie and cart', async () => {
  const { context, page } = await newPage(browser);
  await addToCart(page, 2);
  const before = await guestCookie(context);
  assert.ok(before, 'the visitor is a guest');
  const wire = watchRequests(context, demo.url);

  await visitAttack(
    page,
    attackerA.page(`/sign-out-${randomId(4)}`, forcedNavigation(`${demo.url}/api/logto/sign-out`)),
    [attackerA, attackerB],
  );

  const [signOut] = await wire.sent((r) => r.url === `${demo.url}/api/logto/sign-out`);
  assert.ok(signOut, 'the sign-out path was requested');
  assert.equal(signOut.method, 'GET');
  assert.equal(signOut.headers['sec-fetch-site'], 'cross-site');
  assert.match(signOut.headers.cookie ?? '', /guestmode=/, 'the Lax guest cookie goes with it');

  assert.equal(await guestCookie(context), before, 'the guest cookie is intact');
  assert.deepEqual(guestCart(before), [{ id: 'rashomon', quantity: 1 }]);
  await context.close();
});

test('a forced GET of /api/logto/sign-out leaves a signed-in user signed in', async () => {
  const { context, page } = await newPage(browser);
  const user = await createUser();
  await signIn(page, user.username);
  assert.ok(await isSignedIn(page));
  const wire = watchRequests(context, demo.url);

  await visitAttack(
    page,
    attackerA.page(`/sign-out-${randomId(4)}`, forcedNavigation(`${demo.url}/api/logto/sign-out`)),
    [attackerA, attackerB],
  );

  const [signOut] = await wire.sent((r) => r.url === `${demo.url}/api/logto/sign-out`);
  assert.ok(signOut, 'the sign-out path was requested');
  assert.equal(signOut.headers['sec-fetch-site'], 'cross-site');
  assert.match(signOut.headers.cookie ?? '', /logto_/, 'the Lax session cookie goes too');
  assert.ok(await isSignedIn(page), 'still signed in');
  await context.close();
});

// Last in this file: it spends this address's guest budget for the rest of the minute.
test('fresh cookie jars adding to the cart from one address get 429 with Retry-After by default', async () => {
  const statuses: number[] = [];
  let refused: Response | undefined;
  for (let i = 0; i < 61 && refused === undefined; i++) {
    const res = await fetch(`${demo.url}${CART_API}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify([{ id: 'rashomon', quantity: 1 }]),
      signal: AbortSignal.timeout(15_000),
    });
    if (res.status === 429) refused = res;
    else {
      statuses.push(res.status);
      await res.arrayBuffer();
    }
  }
  assert.ok(refused, 'the 61st guest in a minute is refused at the latest');
  assert.ok(statuses.length <= 60 && statuses.every((status) => status === 200), `${statuses}`);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'rate_limited');
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  assert.equal(refused.headers.get('ratelimit-limit'), '60');
  assert.equal(refused.headers.get('set-cookie'), null);
});
