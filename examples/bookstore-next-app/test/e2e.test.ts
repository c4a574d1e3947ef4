// The App Router Bookstore in headless Chromium against a production build (`next build`, then
// `next start`) and the local provider: the same journey as the Pages Router Bookstore, with the
// shop's writes made by Server Actions.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, randomId } from '@guestmode/testkit';
import type { Browser, Page } from 'playwright-core';
import type { NextDemo } from '../src/index.js';
import {
  addToCart,
  cartIs,
  cartLines,
  guestCookie,
  newPage,
  PASSWORD,
  runAction,
  startTestDemo,
} from './fixture.js';

const SHOTS = new URL('../test-results/', import.meta.url).pathname;

let browser: Browser;
let demo: NextDemo;
let dataDir: string;

before(
  async () => {
    mkdirSync(SHOTS, { recursive: true });
    dataDir = await mkdtemp(join(tmpdir(), 'bookstore-next-app-e2e-'));
    browser = await launchBrowser();
    demo = await startTestDemo(dataDir, '.tmp/next-e2e');
  },
  { timeout: 300_000 },
);

after(async () => {
  await browser?.close();
  await demo?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function home(page: Page) {
  await page.goto(demo.url);
  await page.locator('.account a, .account button').first().waitFor();
}

async function signInWithPassword(page: Page, username: string) {
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([
    page.waitForURL(`${demo.url}/`),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${demo.url}/`);
  await page.getByRole('link', { name: 'Sign in' }).waitFor();
}

const username = `reader-${randomId(4)}`;
let oldGuestCookie: string | undefined;

test('a guest adds two books, creates an account, and finds both in the cart; the header shows the sub', {
  timeout: 90_000,
}, async () => {
  const { context, page } = await newPage(browser);
  await home(page);
  assert.deepEqual(await cartLines(page), []);
  assert.equal(await guestCookie(context, demo.url), undefined, 'no guest before the first action');
  await addToCart(page, 0);
  await cartIs(page, ['I Am a Cat × 1']);
  await addToCart(page, 1);
  await cartIs(page, ['I Am a Cat × 1', 'Kokoro × 1']);
  const cookie = await guestCookie(context, demo.url);
  assert.ok(cookie);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  oldGuestCookie = cookie.value;
  // Rendered by the Server Component from the server's data, not kept by the page.
  await home(page);
  assert.deepEqual(await cartLines(page), ['I Am a Cat × 1', 'Kokoro × 1']);
  await page.screenshot({ path: join(SHOTS, 'app-01-guest-cart.png'), fullPage: true });

  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Username').waitFor();
  await page.getByRole('link', { name: 'Create one' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([
    page.waitForURL(`${demo.url}/`),
    page.getByRole('button', { name: 'Create account' }).click(),
  ]);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  assert.deepEqual(await cartLines(page), ['I Am a Cat × 1', 'Kokoro × 1']);
  const header = (await page.locator('header').textContent()) ?? '';
  assert.match(header, new RegExp(username));
  const user = (await (await page.request.get(`${demo.url}/api/logto/user`)).json()) as {
    isAuthenticated: boolean;
    claims: { sub: string };
  };
  assert.equal(user.isAuthenticated, true);
  assert.ok(header.includes(`(sub: ${user.claims.sub})`), header);
  assert.equal(
    await guestCookie(context, demo.url),
    undefined,
    'the merged guest cookie is deleted',
  );
  await page.screenshot({ path: join(SHOTS, 'app-02-signed-up-cart.png'), fullPage: true });
  await context.close();
});

test('a second browser with its own guest cart signs in as the same user: quantities add up; sign-out starts a fresh guest', {
  timeout: 90_000,
}, async () => {
  const { context, page } = await newPage(browser);
  await home(page);
  await addToCart(page, 0);
  await cartIs(page, ['I Am a Cat × 1']);
  await addToCart(page, 0);
  await cartIs(page, ['I Am a Cat × 2']);
  await addToCart(page, 2);
  await cartIs(page, ['I Am a Cat × 2', 'Rashōmon and Other Stories × 1']);
  await signInWithPassword(page, username);
  assert.deepEqual(await cartLines(page), [
    'I Am a Cat × 3',
    'Kokoro × 1',
    'Rashōmon and Other Stories × 1',
  ]);
  await page.screenshot({ path: join(SHOTS, 'app-03-second-browser-merged.png'), fullPage: true });

  // Signed in, the actions write to the account.
  await addToCart(page, 3);
  await cartIs(page, [
    'I Am a Cat × 3',
    'Kokoro × 1',
    'Rashōmon and Other Stories × 1',
    'Night on the Galactic Railroad × 1',
  ]);
  await signOut(page);
  assert.deepEqual(await cartLines(page), []);
  assert.equal(await guestCookie(context, demo.url), undefined);
  const after = await (await page.request.get(`${demo.url}/api/logto/user`)).json();
  assert.equal(after.isAuthenticated, false, 'the Logto session is cleared');
  // A fresh guest after sign-out, with a new cookie; the account keeps its cart.
  await addToCart(page, 4);
  await cartIs(page, ['Pride and Prejudice × 1']);
  const fresh = await guestCookie(context, demo.url);
  assert.ok(fresh && fresh.value !== oldGuestCookie);
  await context.clearCookies();
  await home(page);
  await signInWithPassword(page, username);
  assert.deepEqual(await cartLines(page), [
    'I Am a Cat × 3',
    'Kokoro × 1',
    'Rashōmon and Other Stories × 1',
    'Night on the Galactic Railroad × 1',
  ]);
  await context.close();
});

test('the old guest cookie replayed after the merge is ignored; the next action replaces it', {
  timeout: 90_000,
}, async () => {
  assert.ok(oldGuestCookie);
  const { context, page } = await newPage(browser);
  await context.addCookies([{ name: 'guestmode', value: oldGuestCookie, url: demo.url }]);
  await home(page);
  assert.deepEqual(await cartLines(page), []);
  await addToCart(page, 5);
  await cartIs(page, ['Moby-Dick × 1']);
  assert.notEqual((await guestCookie(context, demo.url))?.value, oldGuestCookie);
  await context.close();
});

test('a conflicting theme asks first: the confirm page previews, Merge keeps the account theme and adds the cart', {
  timeout: 90_000,
}, async () => {
  const { context, page } = await newPage(browser);
  await home(page);
  await signInWithPassword(page, username);
  await runAction(page, () => page.getByRole('button', { name: 'Dark' }).click());
  await signOut(page);
  // As a guest: a light theme and a book.
  await runAction(page, () => page.getByRole('button', { name: 'Light' }).click());
  await addToCart(page, 5);
  await cartIs(page, ['Moby-Dick × 1']);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([
    page.waitForURL(`${demo.url}/merge`),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  await page.getByRole('heading', { name: 'Merge your guest data?' }).waitFor();
  await page.screenshot({ path: join(SHOTS, 'app-04-confirm-merge.png'), fullPage: true });
  await Promise.all([
    page.waitForURL(`${demo.url}/`),
    page.getByRole('button', { name: 'Merge' }).click(),
  ]);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  assert.ok((await cartLines(page)).includes('Moby-Dick × 1'));
  assert.equal(await page.locator('.page').getAttribute('data-theme'), 'dark');
  assert.equal(await guestCookie(context, demo.url), undefined);
  await context.close();
});
