// Cross-site attacks on the App Router Bookstore (production build, `next start`) in headless
// Chromium: two attacker sites on other loopback addresses (127.0.0.2 and 127.0.0.3) try to
// create or replace a guest through the guest API and through the shop's Server Actions, merge a
// guest silently at sign-in, and sign the visitor out. No request another site can cause may do
// any of that.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  type AttackerSite,
  autoSubmitForm,
  forcedNavigation,
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
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { NextDemo } from '../src/index.js';
import { AppDatabase, addToCart as clickAddToCart, startTestDemo } from './fixture.js';

const CART_API = '/api/guestmode/attributes/cart';
/** A form field whose `name=value` in a text/plain post is this JSON cart. */
const JSON_CART_FIELD = { '[{"id":"moby-dick","quantity":1,"x":"': '"}]' };

let browser: Browser;
let demo: NextDemo;
let dataDir: string;
let attackerA: AttackerSite;
let attackerB: AttackerSite;
let db: AppDatabase;

before(
  async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bookstore-next-app-cross-site-'));
    db = new AppDatabase(dataDir);
    const [launched, a, b] = await Promise.all([
      launchBrowser(),
      startAttackerSite('127.0.0.2'),
      startAttackerSite('127.0.0.3'),
    ]);
    browser = launched;
    attackerA = a;
    attackerB = b;
    demo = await startTestDemo(dataDir, '.tmp/next-cross-site');
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

async function guestCookie(context: BrowserContext): Promise<string | undefined> {
  return (await cookieOf(context, demo.url))?.value;
}

/** Same-origin "Add to cart" (a Server Action), as the visitor clicks it. */
async function addToCart(page: Page, index: number) {
  await page.goto(demo.url);
  await clickAddToCart(page, index);
}

const createUser = () => createAccount(demo.idp);

async function signIn(page: Page, username: string) {
  await page.goto(demo.url);
  await signInWithPassword(page, demo.url, username);
}

async function isSignedIn(page: Page): Promise<boolean> {
  await page.goto(demo.url);
  const user = await page.evaluate(async () => (await fetch('/api/logto/user')).json());
  return (user as { isAuthenticated?: unknown }).isAuthenticated === true;
}

test("the page that shows the visitor's cart is never cached: private, no-store; the guest API also says Vary: Cookie", {
  timeout: 90_000,
}, async () => {
  const { context, page } = await newPage(browser);
  await addToCart(page, 0);
  const res = await page.goto(demo.url);
  assert.equal(res?.status(), 200);
  // Next's own answer for a page that read cookies: no cache, shared or private, may keep it.
  assert.match(res?.headers()['cache-control'] ?? '', /\bprivate\b.*\bno-store\b/);
  const api = await page.request.get(`${demo.url}/api/guestmode/profile`);
  assert.equal(api.headers()['cache-control'], 'no-store');
  assert.match(api.headers().vary ?? '', /\bCookie\b/i);
  await context.close();
});

test("a cross-site form post to the shop's Server Action creates no guest and changes no cart", {
  timeout: 90_000,
}, async () => {
  const { context, page } = await newPage(browser);
  await addToCart(page, 0);
  const before = await guestCookie(context);
  assert.ok(before, 'the visitor is a guest');
  // The action's id is public (it is in the page): the attacker copies the form, field for field.
  await page.goto(demo.url);
  const fields = await page
    .locator('form:has(button[title="Kokoro"]) input[type="hidden"]')
    .evaluateAll((inputs) =>
      Object.fromEntries(
        inputs.map((i) => [i.getAttribute('name') ?? '', i.getAttribute('value') ?? '']),
      ),
    );
  assert.ok(
    Object.keys(fields).some((name) => name.startsWith('$ACTION_')),
    JSON.stringify(fields),
  );
  const created = db.guestCount();
  const wire = watchRequests(context, demo.url);

  await visitAttack(
    page,
    attackerA.page(
      `/action-${randomId(4)}`,
      autoSubmitForm(`${demo.url}/`, fields, { enctype: 'multipart/form-data' }),
    ),
    [attackerA, attackerB],
  );
  const [post] = await wire.sent((r) => r.method === 'POST' && r.url === `${demo.url}/`);
  assert.ok(post, 'the form post reached the Bookstore');
  assert.equal(post.headers['sec-fetch-site'], 'cross-site');

  assert.equal(db.guestCount(), created, 'no guest created');
  assert.equal(await guestCookie(context), before, 'the guest cookie is not replaced');
  assert.deepEqual(db.guestCart(before), [{ id: 'i-am-a-cat', quantity: 1 }]);
  await context.close();
});

test('a plain cross-site form post, or a 307 bounce of one (Origin: null), to the cart API creates no guest', {
  timeout: 90_000,
}, async () => {
  const { context, page } = await newPage(browser);
  await addToCart(page, 0);
  const before = await guestCookie(context);
  assert.ok(before, 'the visitor is a guest');
  const created = db.guestCount();
  const wire = watchRequests(context, demo.url);
  const id = randomId(4);

  await visitAttack(
    page,
    attackerA.page(
      `/plain-${id}`,
      autoSubmitForm(`${demo.url}${CART_API}`, JSON_CART_FIELD, { enctype: 'text/plain' }),
    ),
    [attackerA, attackerB],
  );
  const bounce = attackerB.redirect(`/bounce-${id}`, `${demo.url}${CART_API}`, 307);
  await visitAttack(
    page,
    attackerA.page(
      `/start-${id}`,
      autoSubmitForm(bounce, JSON_CART_FIELD, { enctype: 'text/plain' }),
    ),
    [attackerA, attackerB],
  );

  const posts = await wire.sent((r) => r.method === 'POST' && r.url.endsWith(CART_API));
  assert.equal(posts.length, 2, 'both posts reached the Bookstore');
  assert.deepEqual(posts.map((p) => p.headers.origin).sort(), [attackerA.url, 'null'].sort());
  for (const post of posts) {
    assert.doesNotMatch(post.headers.cookie ?? '', /guestmode=/);
    assert.ok(post.status !== undefined && post.status >= 400 && post.status < 500, 'refused');
  }
  assert.equal(db.guestCount(), created, 'no guest created');
  assert.equal(await guestCookie(context), before, 'the guest cookie is not replaced');
  assert.deepEqual(db.guestCart(before), [{ id: 'i-am-a-cat', quantity: 1 }]);
  await context.close();
});

test('a forced navigation to sign-in with a provider session does not merge the guest silently', {
  timeout: 90_000,
}, async () => {
  const { context, page } = await newPage(browser);
  const user = await createUser();
  await addToCart(page, 0);
  await signIn(page, user.username);
  assert.deepEqual(db.cartOf(`u:${user.sub}`), [{ id: 'i-am-a-cat', quantity: 1 }]);
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
  await page.waitForURL((u) => u.origin === demo.url && !u.pathname.startsWith('/api/logto/'));

  const [start] = await wire.sent((r) => r.url === `${demo.url}/api/logto/sign-in`);
  assert.ok(start, 'the sign-in started');
  assert.equal(start.headers['sec-fetch-site'], 'cross-site');
  assert.match(start.headers.cookie ?? '', /guestmode=/, 'the Lax guest cookie goes with it');
  assert.deepEqual(db.cartOf(`u:${user.sub}`), [{ id: 'i-am-a-cat', quantity: 1 }], 'not merged');
  assert.deepEqual(db.guestCart(guest), [{ id: 'kokoro', quantity: 1 }], 'the guest is intact');
  assert.equal(new URL(page.url()).pathname, '/merge', 'the user is asked on the Bookstore');
  await page.locator('form button[name="decision"][value="merge"]').waitFor();
  await context.close();
});

test('a forced GET of /api/logto/sign-out leaves a guest its cookie and a user signed in', {
  timeout: 90_000,
}, async () => {
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
  assert.equal(signOut?.headers['sec-fetch-site'], 'cross-site');
  assert.equal(await guestCookie(context), before, 'the guest cookie is intact');
  assert.deepEqual(db.guestCart(before), [{ id: 'rashomon', quantity: 1 }]);

  const user = await createUser();
  await signIn(page, user.username);
  assert.ok(await isSignedIn(page));
  await visitAttack(
    page,
    attackerA.page(`/sign-out-${randomId(4)}`, forcedNavigation(`${demo.url}/api/logto/sign-out`)),
    [attackerA, attackerB],
  );
  assert.ok(await isSignedIn(page), 'still signed in');
  await context.close();
});
