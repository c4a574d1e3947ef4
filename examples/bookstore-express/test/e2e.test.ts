import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, randomId } from '@guestmode/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type Demo, startDemo } from '../src/index.js';

const SHOTS = new URL('../test-results/', import.meta.url).pathname;
const PASSWORD = 'a long demo password 1';

let browser: Browser;
let demo: Demo;
let dataDir: string;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dataDir = await mkdtemp(join(tmpdir(), 'bookstore-e2e-'));
  demo = await startDemo({ dataDir, ports: 0, log: () => {} });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await demo?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    locale: 'en-US',
    viewport: { width: 1200, height: 860 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { context, page };
}

function cart(page: Page) {
  return page.getByRole('region', { name: 'Cart' });
}

async function addToCart(page: Page, index: number) {
  await Promise.all([
    page.waitForURL(`${demo.url}/`),
    page.getByRole('button', { name: 'Add to cart' }).nth(index).click(),
  ]);
}

async function cartLines(page: Page): Promise<string[]> {
  return (await cart(page).getByRole('listitem').allTextContents()).map((t) => t.trim());
}

async function guestCookie(context: BrowserContext) {
  return (await context.cookies(demo.url)).find((c) => c.name === 'guestmode');
}

async function signInWithPassword(page: Page, username: string) {
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([
    page.waitForURL(`${demo.url}/`),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${demo.url}/`);
  await page.getByRole('link', { name: 'Sign in' }).waitFor();
}

const username = `reader-${randomId(4)}`;
let oldGuestCookie: string | undefined;

test('a guest adds two books, creates an account, and finds both in the cart', async () => {
  const { context, page } = await newPage();
  await page.goto(demo.url);
  assert.deepEqual(await cartLines(page), []);
  assert.equal(await guestCookie(context), undefined, 'no guest before the first action');
  await addToCart(page, 0);
  await addToCart(page, 1);
  assert.deepEqual(await cartLines(page), ['I Am a Cat × 1', 'Kokoro × 1']);
  const cookie = await guestCookie(context);
  assert.ok(cookie);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  oldGuestCookie = cookie.value;
  await page.screenshot({ path: join(SHOTS, '01-guest-cart.png'), fullPage: true });

  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Username').waitFor();
  await page.screenshot({ path: join(SHOTS, '02-idp-sign-in.png') });
  await page.getByRole('link', { name: 'Create one' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([
    page.waitForURL(`${demo.url}/`),
    page.getByRole('button', { name: 'Create account' }).click(),
  ]);
  assert.deepEqual(await cartLines(page), ['I Am a Cat × 1', 'Kokoro × 1']);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  assert.match((await page.locator('header').textContent()) ?? '', new RegExp(username));
  assert.match((await page.locator('header').textContent()) ?? '', /sub: \w+/);
  assert.equal(await guestCookie(context), undefined, 'the merged guest cookie is deleted');
  await page.screenshot({ path: join(SHOTS, '03-signed-up-cart.png'), fullPage: true });
  await context.close();
});

test('a second browser with its own guest cart signs in as the same user: quantities add up', async () => {
  const { context, page } = await newPage();
  await page.goto(demo.url);
  await addToCart(page, 0);
  await addToCart(page, 0);
  await addToCart(page, 2);
  assert.deepEqual(await cartLines(page), ['I Am a Cat × 2', 'Rashōmon and Other Stories × 1']);
  await signInWithPassword(page, username);
  assert.deepEqual(await cartLines(page), [
    'I Am a Cat × 3',
    'Kokoro × 1',
    'Rashōmon and Other Stories × 1',
  ]);
  await page.screenshot({ path: join(SHOTS, '04-second-browser-merged.png'), fullPage: true });

  // Sign-out: a fresh, empty guest; the account's cart is still there after signing in again.
  await signOut(page);
  assert.deepEqual(await cartLines(page), []);
  assert.equal(await guestCookie(context), undefined);
  await page.screenshot({ path: join(SHOTS, '05-after-sign-out.png'), fullPage: true });
  await signInWithPassword(page, username);
  assert.deepEqual(await cartLines(page), [
    'I Am a Cat × 3',
    'Kokoro × 1',
    'Rashōmon and Other Stories × 1',
  ]);
  await context.close();
});

test('the old guest cookie replayed after the merge is refused and cleared', async () => {
  assert.ok(oldGuestCookie);
  const { context, page } = await newPage();
  await context.addCookies([{ name: 'guestmode', value: oldGuestCookie, url: demo.url }]);
  await page.goto(demo.url);
  assert.deepEqual(await cartLines(page), []);
  assert.equal(await guestCookie(context), undefined);
  await context.close();
});

test('drafts and preferences follow a guest who continues with the demo OAuth provider', async () => {
  const { context, page } = await newPage();
  await page.goto(demo.url);
  await Promise.all([
    page.waitForURL(`${demo.url}/`),
    page.getByRole('button', { name: 'Dark' }).click(),
  ]);
  await page.getByRole('link', { name: 'Kokoro' }).first().click();
  await page.getByLabel('Your draft review').fill('Quiet, and devastating.');
  await page.getByRole('button', { name: 'Save draft' }).click();
  await page.getByRole('status').waitFor();
  await Promise.all([
    page.waitForURL(/\/books\/kokoro/),
    page.getByRole('button', { name: '日本語' }).click(),
  ]);
  await page.screenshot({ path: join(SHOTS, '06-guest-draft-ja-dark.png'), fullPage: true });

  await page.getByRole('link', { name: 'サインイン' }).click();
  await page.getByRole('button', { name: 'Continue with Demo OAuth' }).click();
  await Promise.all([
    page.waitForURL(`${demo.url}/`),
    page.getByRole('button', { name: 'Continue as Ada Lovelace' }).click(),
  ]);
  assert.equal(await page.locator('html').getAttribute('data-theme'), 'dark');
  assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
  await page.getByRole('button', { name: 'サインアウト' }).waitFor();
  assert.match((await page.locator('header').textContent()) ?? '', /Ada Lovelace/);
  await page.goto(`${demo.url}/books/kokoro`);
  assert.equal(await page.getByLabel('レビューの下書き').inputValue(), 'Quiet, and devastating.');
  await page.screenshot({ path: join(SHOTS, '07-social-signed-in-ja-dark.png'), fullPage: true });
  await context.close();
});
