// Cross-site attacks on the Express Bookstore in headless Chromium: two attacker sites on other
// loopback addresses (127.0.0.2 and 127.0.0.3, other sites than the Bookstore on 127.0.0.1) try
// to create or replace a guest, merge a guest silently at sign-in, and sign the visitor out.
// No request another site can cause may do any of that.
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
import { type Demo, startDemo } from '../src/index.js';

let browser: Browser;
let demo: Demo;
let dataDir: string;
let attackerA: AttackerSite;
let attackerB: AttackerSite;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'bookstore-cross-site-'));
  [demo, browser, attackerA, attackerB] = await Promise.all([
    startDemo({ dataDir, ports: 0, log: () => {}, socialConnector: false }),
    launchBrowser(),
    startAttackerSite('127.0.0.2'),
    startAttackerSite('127.0.0.3'),
  ]);
});

after(async () => {
  await browser?.close();
  await attackerA?.close();
  await attackerB?.close();
  await demo?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const engine = () => demo.bookstore.guestmode;
const guestsCreated = async () => (await engine().stats()).created;

/** The Bookstore's guest cookie (the provider, on another port of 127.0.0.1, has its own). */
async function guestCookie(context: BrowserContext): Promise<string | undefined> {
  return (await cookieOf(context, demo.url))?.value;
}

async function guestCart(token: string): Promise<unknown> {
  const { guest } = await engine().authenticateGuest(token);
  return (await engine().getAttributes({ kind: 'guest', id: guest.id })).cart;
}

async function userCart(sub: string): Promise<unknown> {
  return (await engine().getAttributes({ kind: 'user', id: sub })).cart;
}

/** Same-origin "Add to cart", as the visitor clicks it on the catalogue. */
async function addToCart(page: Page, index: number) {
  await page.goto(demo.url);
  await Promise.all([
    page.waitForURL(`${demo.url}/`),
    page.getByRole('button', { name: 'Add to cart' }).nth(index).click(),
  ]);
}

const createUser = () => createAccount(demo.idp);

/** Signs in from the Bookstore's own link, which also opens a provider session. */
async function signIn(page: Page, username: string) {
  await page.goto(demo.url);
  await signInWithPassword(page, demo.url, username);
}

async function isSignedIn(page: Page): Promise<boolean> {
  await page.goto(demo.url);
  return /sub: \w+/.test((await page.locator('header').textContent()) ?? '');
}

test("pages that show the visitor's cart are never cached: Cache-Control: no-store, Vary: Cookie", async () => {
  const { context, page } = await newPage(browser);
  await addToCart(page, 0);
  for (const path of ['/', '/books/i-am-a-cat']) {
    const res = await page.goto(`${demo.url}${path}`);
    assert.equal(res?.status(), 200, path);
    assert.equal(res?.headers()['cache-control'], 'no-store', path);
    assert.match(res?.headers().vary ?? '', /\bCookie\b/i, path);
  }
  await context.close();
});

test('a plain cross-site form post to /cart/add creates no guest and keeps the guest cookie', async () => {
  const { context, page } = await newPage(browser);
  await addToCart(page, 0);
  const before = await guestCookie(context);
  assert.ok(before, 'the visitor is a guest');
  const created = await guestsCreated();
  const wire = watchRequests(context, demo.url);

  await visitAttack(
    page,
    attackerA.page(
      `/plain-${randomId(4)}`,
      autoSubmitForm(`${demo.url}/cart/add`, { book: 'moby-dick', back: '/' }),
    ),
    [attackerA, attackerB],
  );

  // What Chromium sent: the attacker's origin, cross-site, and no SameSite=Lax guest cookie.
  const [post] = await wire.sent((r) => r.method === 'POST' && r.url.endsWith('/cart/add'));
  assert.ok(post, 'the form post reached the Bookstore');
  assert.equal(post.headers.origin, attackerA.url);
  assert.equal(post.headers['sec-fetch-site'], 'cross-site');
  assert.doesNotMatch(post.headers.cookie ?? '', /guestmode=/);

  assert.equal(await guestsCreated(), created, 'no guest created');
  assert.equal(await guestCookie(context), before, 'the guest cookie is not replaced');
  assert.deepEqual(await guestCart(before), [{ id: 'i-am-a-cat', quantity: 1 }]);
  assert.equal(post.status, 403, 'refused');
  await context.close();
});

test('a 307 bounce through a second site (Origin: null) creates no guest and keeps the guest cookie', async () => {
  const { context, page } = await newPage(browser);
  await addToCart(page, 0);
  const before = await guestCookie(context);
  assert.ok(before, 'the visitor is a guest');
  const created = await guestsCreated();
  const wire = watchRequests(context, demo.url);
  const id = randomId(4);
  const bounce = attackerB.redirect(`/bounce-${id}`, `${demo.url}/cart/add`, 307);

  await visitAttack(
    page,
    attackerA.page(`/start-${id}`, autoSubmitForm(bounce, { book: 'moby-dick', back: '/' })),
    [attackerA, attackerB],
  );

  // Attacker B saw the post from A; the Bookstore saw it re-sent with an opaque origin.
  const atB = attackerB.seen.find((r) => r.path === `/bounce-${id}`);
  assert.equal(atB?.method, 'POST');
  assert.equal(atB?.headers.origin, attackerA.url);
  const [post] = await wire.sent((r) => r.method === 'POST' && r.url.endsWith('/cart/add'));
  assert.ok(post, 'the bounced post reached the Bookstore');
  assert.equal(post.headers.origin, 'null');
  assert.equal(post.headers['sec-fetch-site'], 'cross-site');
  assert.doesNotMatch(post.headers.cookie ?? '', /guestmode=/);

  assert.equal(await guestsCreated(), created, 'no guest created');
  assert.equal(await guestCookie(context), before, 'the guest cookie is not replaced');
  assert.deepEqual(await guestCart(before), [{ id: 'i-am-a-cat', quantity: 1 }]);
  assert.equal(post.status, 403, 'refused');
  await context.close();
});

test('a forced navigation to sign-in with a provider session does not merge the guest silently', async () => {
  const { context, page } = await newPage(browser);
  const user = await createUser();
  await addToCart(page, 0);
  await signIn(page, user.username);
  assert.deepEqual(await userCart(user.sub), [{ id: 'i-am-a-cat', quantity: 1 }]);
  // The Bookstore's session ends (expiry, another tab's sign-out); the provider's lives on.
  await context.clearCookies({ name: 'bookstore.sid' });
  await addToCart(page, 1);
  const guest = await guestCookie(context);
  assert.ok(guest, 'a guest with a cart');
  const wire = watchRequests(context, demo.url);

  await visitAttack(
    page,
    attackerA.page(`/sign-in-${randomId(4)}`, forcedNavigation(`${demo.url}/logto/sign-in`)),
    [attackerA, attackerB],
  );
  // Wait for the round trip through the provider to end back on the Bookstore.
  await page.waitForURL((u) => u.origin === demo.url && !u.pathname.startsWith('/logto/'));

  const [start] = await wire.sent((r) => r.url === `${demo.url}/logto/sign-in`);
  assert.ok(start, 'the sign-in started');
  assert.equal(start.headers['sec-fetch-site'], 'cross-site');
  assert.match(start.headers.cookie ?? '', /guestmode=/, 'the Lax guest cookie goes with it');

  assert.deepEqual(await userCart(user.sub), [{ id: 'i-am-a-cat', quantity: 1 }], 'not merged');
  assert.deepEqual(await guestCart(guest), [{ id: 'kokoro', quantity: 1 }], 'the guest is intact');
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
  assert.deepEqual(await userCart(user.sub), [{ id: 'i-am-a-cat', quantity: 1 }]);
  const id = randomId(4);
  const bounce = attackerB.redirect(`/plant-${id}`, `${demo.url}/cart/add`, 307);

  await visitAttack(
    page,
    attackerA.page(`/plant-${id}`, autoSubmitForm(bounce, { book: 'moby-dick', back: '/' })),
    [attackerA, attackerB],
  );
  await visitAttack(
    page,
    attackerA.page(`/merge-${id}`, forcedNavigation(`${demo.url}/logto/sign-in`)),
    [attackerA, attackerB],
  );
  await page.waitForURL((u) => u.origin === demo.url && !u.pathname.startsWith('/logto/'));

  assert.deepEqual(
    await userCart(user.sub),
    [{ id: 'i-am-a-cat', quantity: 1 }],
    "the attacker's book is not in the victim's account",
  );
  await context.close();
});

test('a forced GET of /logto/sign-out leaves a guest its cookie and cart', async () => {
  const { context, page } = await newPage(browser);
  await addToCart(page, 2);
  const before = await guestCookie(context);
  assert.ok(before, 'the visitor is a guest');
  const wire = watchRequests(context, demo.url);

  await visitAttack(
    page,
    attackerA.page(`/sign-out-${randomId(4)}`, forcedNavigation(`${demo.url}/logto/sign-out`)),
    [attackerA, attackerB],
  );

  const [signOut] = await wire.sent((r) => r.url === `${demo.url}/logto/sign-out`);
  assert.ok(signOut, 'the sign-out path was requested');
  assert.equal(signOut.method, 'GET');
  assert.equal(signOut.headers['sec-fetch-site'], 'cross-site');
  assert.match(signOut.headers.cookie ?? '', /guestmode=/, 'the Lax guest cookie goes with it');

  assert.equal(await guestCookie(context), before, 'the guest cookie is intact');
  assert.deepEqual(await guestCart(before), [{ id: 'rashomon', quantity: 1 }]);
  await context.close();
});

test('a forced GET of /logto/sign-out leaves a signed-in user signed in', async () => {
  const { context, page } = await newPage(browser);
  const user = await createUser();
  await signIn(page, user.username);
  assert.ok(await isSignedIn(page));
  const wire = watchRequests(context, demo.url);

  await visitAttack(
    page,
    attackerA.page(`/sign-out-${randomId(4)}`, forcedNavigation(`${demo.url}/logto/sign-out`)),
    [attackerA, attackerB],
  );

  const [signOut] = await wire.sent((r) => r.url === `${demo.url}/logto/sign-out`);
  assert.ok(signOut, 'the sign-out path was requested');
  assert.equal(signOut.headers['sec-fetch-site'], 'cross-site');
  assert.match(signOut.headers.cookie ?? '', /bookstore\.sid=/, 'the Lax session cookie goes too');
  assert.ok(await isSignedIn(page), 'still signed in');
  await context.close();
});
