// The Next.js Bookstore in headless Chromium against a production build (`next build` here, in
// the set-up, then `next start`) and the local provider: the same journey as the Express demo.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, launchBrowser, randomId } from '@guestmode/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type NextDemo, startNextDemo } from '../src/index.js';

const SHOTS = new URL('../test-results/', import.meta.url).pathname;
const PASSWORD = 'a long demo password 1';

let browser: Browser;
let demo: NextDemo;
let dataDir: string;

before(
  async () => {
    mkdirSync(SHOTS, { recursive: true });
    dataDir = await mkdtemp(join(tmpdir(), 'bookstore-next-e2e-'));
    const [port, launched] = await Promise.all([freePort(), launchBrowser()]);
    browser = launched;
    // Its own build folder (under the git-ignored .tmp/): never clobbers `npm run start:next`'s
    // build, and is reused by the next run when no source changed.
    demo = await startNextDemo({
      dataDir,
      test: { appPort: port },
      distDir: '.tmp/next-e2e',
      log: (line) => process.stderr.write(`${line}\n`),
    });
  },
  { timeout: 240_000 },
);

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
  page.on('pageerror', (error) => process.stderr.write(`page error: ${error.message}\n`));
  return { context, page };
}

function cart(page: Page) {
  return page.getByRole('region', { name: 'Cart' });
}

/** Clicks "Add to cart" and waits until the server has stored the cart (the optimistic line shows at once). */
async function addToCart(page: Page, index: number) {
  await Promise.all([
    page.waitForResponse(
      (r) => r.url().endsWith('/api/guestmode/attributes/cart') && r.request().method() === 'PUT',
    ),
    page.getByRole('button', { name: 'Add to cart' }).nth(index).click(),
  ]);
}

async function cartLines(page: Page): Promise<string[]> {
  return (await cart(page).getByRole('listitem').allTextContents()).map((t) => t.trim());
}

async function guestCookie(context: BrowserContext) {
  return (await context.cookies(demo.url)).find((c) => c.name === 'guestmode');
}

async function home(page: Page) {
  await page.goto(demo.url);
  await page.locator('.account a').first().waitFor();
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

test('a guest adds two books, creates an account, and finds both in the cart; the header shows the sub', async () => {
  const { context, page } = await newPage();
  await home(page);
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
  // The cart is the server's, not only the page's: a reload renders it on the server.
  await home(page);
  assert.deepEqual(await cartLines(page), ['I Am a Cat × 1', 'Kokoro × 1']);
  await page.screenshot({ path: join(SHOTS, '01-guest-cart.png'), fullPage: true });

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
  // Like the seed's page: the signed-in user's `sub`, read from /api/logto/user with SWR.
  const user = (await (await page.request.get(`${demo.url}/api/logto/user`)).json()) as {
    isAuthenticated: boolean;
    claims: { sub: string };
  };
  assert.equal(user.isAuthenticated, true);
  assert.ok(header.includes(`(sub: ${user.claims.sub})`), header);
  assert.equal(await guestCookie(context), undefined, 'the merged guest cookie is deleted');
  await page.screenshot({ path: join(SHOTS, '02-signed-up-cart.png'), fullPage: true });
  await context.close();
});

test('a second browser with its own guest cart signs in as the same user: quantities add up; sign-out starts a fresh guest', async () => {
  const { context, page } = await newPage();
  await home(page);
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
  await page.screenshot({ path: join(SHOTS, '03-second-browser-merged.png'), fullPage: true });

  // Signed in, writes go to the account.
  await addToCart(page, 3);
  await signOut(page);
  assert.deepEqual(await cartLines(page), []);
  assert.equal(await guestCookie(context), undefined);
  const after = await (await page.request.get(`${demo.url}/api/logto/user`)).json();
  assert.equal(after.isAuthenticated, false, 'the Logto session is cleared');
  await page.screenshot({ path: join(SHOTS, '04-after-sign-out.png'), fullPage: true });
  // A fresh guest after sign-out, with a new cookie; the account keeps its cart.
  await addToCart(page, 4);
  assert.deepEqual(await cartLines(page), ['Pride and Prejudice × 1']);
  const fresh = await guestCookie(context);
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

test('the old guest cookie replayed after the merge is refused and cleared', async () => {
  assert.ok(oldGuestCookie);
  const { context, page } = await newPage();
  await context.addCookies([{ name: 'guestmode', value: oldGuestCookie, url: demo.url }]);
  await home(page);
  assert.deepEqual(await cartLines(page), []);
  assert.equal(await guestCookie(context), undefined);
  await context.close();
});

test('a conflicting theme asks first: the confirm page previews, Merge keeps the account theme and adds the cart', async () => {
  const { context, page } = await newPage();
  await home(page);
  // The account has no theme yet: set one as the user.
  await signInWithPassword(page, username);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/guestmode/attributes/theme')),
    page.getByRole('button', { name: 'Dark' }).click(),
  ]);
  await signOut(page);
  // As a guest: a light theme and a book.
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/guestmode/attributes/theme')),
    page.getByRole('button', { name: 'Light' }).click(),
  ]);
  await addToCart(page, 5);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([
    page.waitForURL(`${demo.url}/merge`),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  await page.getByRole('heading', { name: 'Merge your guest data?' }).waitFor();
  await page.screenshot({ path: join(SHOTS, '05-confirm-merge.png'), fullPage: true });
  await Promise.all([
    page.waitForURL(`${demo.url}/`),
    page.getByRole('button', { name: 'Merge' }).click(),
  ]);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  assert.ok((await cartLines(page)).includes('Moby-Dick × 1'));
  assert.equal(await page.locator('.page').getAttribute('data-theme'), 'dark');
  assert.equal(await guestCookie(context), undefined);
  await context.close();
});
