// The journey every Bookstore example passes in headless Chromium, whatever its framework: a
// guest fills a cart, signs up and keeps it; a second browser's cart adds up on sign-in; sign-out
// starts a fresh guest; a replayed guest cookie is worthless after its merge; and, where the
// Bookstore asks before a conflicting merge, the confirm page. Each Bookstore's test file says
// how to start it and how its pages are driven (form posts, fetches or Server Actions).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from './chromium.js';
import { randomId } from './util.js';

/** The password of the accounts the journey creates on the Bookstore's local provider. */
export const BOOKSTORE_PASSWORD = 'a long demo password 1';

/** A running Bookstore. */
export interface RunningBookstore {
  readonly url: string;
  close(): Promise<void>;
}

/** How the journey starts and drives one Bookstore. */
export interface BookstoreDriver {
  /** Starts the Bookstore (and its provider) with its database in `dataDir`. */
  start(dataDir: string): Promise<RunningBookstore>;
  /** How long `start` may take (a Next production build takes minutes). Default 60 s. */
  readonly startTimeoutMs?: number;
  /** How long one journey step may take. Default 60 s. */
  readonly stepTimeoutMs?: number;
  /** Where screenshots go, and the prefix of their names. */
  readonly shots: { readonly dir: string; readonly prefix: string };
  /** Opens the shop page and waits until it can be used. */
  home(page: Page, url: string): Promise<void>;
  /** Clicks the `index`th "Add to cart" and waits until the server has stored the cart. */
  addToCart(page: Page, index: number, url: string): Promise<void>;
  /** Picks a theme ("Light" or "Dark") and waits until the server has stored it. */
  chooseTheme(page: Page, label: 'Light' | 'Dark', url: string): Promise<void>;
  /** The element whose `data-theme` the page is shown in. */
  readonly themeHolder: string;
  /**
   * The Logto SDK's user route (`/api/logto/user`), where the Bookstore has one: the journey then
   * checks the header's `sub` against it and that sign-out ends the Logto session.
   */
  readonly userRoute?: string;
  /**
   * What a visit with a replayed, merged guest cookie does to it: `cleared` (the page deletes
   * it), or `kept` (a page that cannot write cookies leaves it until the next action).
   */
  readonly replayedCookie: 'cleared' | 'kept';
  /** The Bookstore asks before a merge that conflicts (`confirm: 'on-conflict'`, `/merge`). */
  readonly confirmsConflicts: boolean;
}

export function cartLines(page: Page): Promise<string[]> {
  return page
    .getByRole('region', { name: 'Cart' })
    .getByRole('listitem')
    .allTextContents()
    .then((lines) => lines.map((line) => line.trim()));
}

/** Waits (bounded) until the cart shows `expected`; fails with what it shows otherwise. */
export async function cartIs(page: Page, expected: readonly string[]): Promise<void> {
  let lines: string[] = [];
  for (let attempt = 0; attempt < 100; attempt++) {
    lines = await cartLines(page);
    if (JSON.stringify(lines) === JSON.stringify(expected)) return;
    await page.waitForTimeout(100);
  }
  assert.deepEqual(lines, expected);
}

export async function guestCookie(context: BrowserContext, url: string) {
  return (await context.cookies(url)).find((cookie) => cookie.name === 'guestmode');
}

/** A fresh browser context (no cookies) and a page in it; page errors are reported on stderr. */
export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    locale: 'en-US',
    viewport: { width: 1200, height: 860 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (error) => process.stderr.write(`page error: ${error.message}\n`));
  return { context, page };
}

/** Signs in on the provider's page with `username`, back on `url`'s shop. */
export async function signInWithPassword(page: Page, url: string, username: string) {
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(BOOKSTORE_PASSWORD);
  await Promise.all([
    page.waitForURL(`${url}/`),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** The part of the Bookstore's local provider that makes accounts. */
export interface AccountMaker {
  createUser(input: { username: string; password: string }): Promise<{ id: string }>;
}

/** A fresh account on the Bookstore's local provider (password {@link BOOKSTORE_PASSWORD}). */
export async function createAccount(
  idp: AccountMaker | undefined,
  prefix = 'victim',
): Promise<{ sub: string; username: string }> {
  assert.ok(idp, 'the local provider runs');
  const username = `${prefix}-${randomId(4)}`;
  const { id } = await idp.createUser({ username, password: BOOKSTORE_PASSWORD });
  return { sub: id, username };
}

export async function signOut(page: Page, url: string) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${url}/`);
  await page.getByRole('link', { name: 'Sign in' }).waitFor();
}

/**
 * Registers the journey's tests (and the set-up that starts the Bookstore and Chromium) in the
 * calling test file. Returns the running Bookstore and browser for the file's own tests.
 */
export function bookstoreJourney(driver: BookstoreDriver): {
  bookstore(): RunningBookstore;
  browser(): Browser;
} {
  let browser: Browser | undefined;
  let store: RunningBookstore | undefined;
  let dataDir: string | undefined;
  const shot = (page: Page, name: string) =>
    page.screenshot({
      path: join(driver.shots.dir, `${driver.shots.prefix}${name}.png`),
      fullPage: true,
    });
  const step = { timeout: driver.stepTimeoutMs ?? 60_000 };

  before(
    async () => {
      mkdirSync(driver.shots.dir, { recursive: true });
      dataDir = await mkdtemp(join(tmpdir(), 'bookstore-journey-'));
      browser = await launchBrowser();
      store = await driver.start(dataDir);
    },
    { timeout: driver.startTimeoutMs ?? 60_000 },
  );

  after(async () => {
    await browser?.close();
    await store?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const running = () => {
    assert.ok(store && browser, 'the Bookstore and Chromium are started');
    return { url: store.url, browser };
  };
  const userOf = async (page: Page, url: string) =>
    (await (await page.request.get(`${url}${driver.userRoute}`)).json()) as {
      isAuthenticated: boolean;
      claims?: { sub: string };
    };
  const username = `reader-${randomId(4)}`;
  let oldGuestCookie: string | undefined;

  test(
    'a guest adds two books, creates an account, and finds both in the cart; the header shows the sub',
    step,
    async () => {
      const { url, browser } = running();
      const { context, page } = await newPage(browser);
      await driver.home(page, url);
      assert.deepEqual(await cartLines(page), []);
      assert.equal(await guestCookie(context, url), undefined, 'no guest before the first action');
      await driver.addToCart(page, 0, url);
      await cartIs(page, ['I Am a Cat × 1']);
      await driver.addToCart(page, 1, url);
      await cartIs(page, ['I Am a Cat × 1', 'Kokoro × 1']);
      const cookie = await guestCookie(context, url);
      assert.ok(cookie);
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Lax');
      oldGuestCookie = cookie.value;
      // The cart is the server's, not only the page's: a reload renders it on the server.
      await driver.home(page, url);
      assert.deepEqual(await cartLines(page), ['I Am a Cat × 1', 'Kokoro × 1']);
      await shot(page, '01-guest-cart');

      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.getByLabel('Username').waitFor();
      await page.getByRole('link', { name: 'Create one' }).click();
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill(BOOKSTORE_PASSWORD);
      await Promise.all([
        page.waitForURL(`${url}/`),
        page.getByRole('button', { name: 'Create account' }).click(),
      ]);
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      assert.deepEqual(await cartLines(page), ['I Am a Cat × 1', 'Kokoro × 1']);
      const header = (await page.locator('header').textContent()) ?? '';
      assert.match(header, new RegExp(username));
      if (driver.userRoute) {
        const user = await userOf(page, url);
        assert.equal(user.isAuthenticated, true);
        assert.ok(header.includes(`(sub: ${user.claims?.sub})`), header);
      } else {
        assert.match(header, /sub: \w+/);
      }
      assert.equal(
        await guestCookie(context, url),
        undefined,
        'the merged guest cookie is deleted',
      );
      await shot(page, '02-signed-up-cart');
      await context.close();
    },
  );

  test(
    'a second browser with its own guest cart signs in as the same user: quantities add up; sign-out starts a fresh guest',
    step,
    async () => {
      const { url, browser } = running();
      const { context, page } = await newPage(browser);
      await driver.home(page, url);
      await driver.addToCart(page, 0, url);
      await cartIs(page, ['I Am a Cat × 1']);
      await driver.addToCart(page, 0, url);
      await cartIs(page, ['I Am a Cat × 2']);
      await driver.addToCart(page, 2, url);
      await cartIs(page, ['I Am a Cat × 2', 'Rashōmon and Other Stories × 1']);
      await signInWithPassword(page, url, username);
      const merged = ['I Am a Cat × 3', 'Kokoro × 1', 'Rashōmon and Other Stories × 1'];
      assert.deepEqual(await cartLines(page), merged);
      await shot(page, '03-second-browser-merged');

      // Signed in, writes go to the account.
      await driver.addToCart(page, 3, url);
      const account = [...merged, 'Night on the Galactic Railroad × 1'];
      await cartIs(page, account);
      await signOut(page, url);
      assert.deepEqual(await cartLines(page), []);
      assert.equal(await guestCookie(context, url), undefined);
      if (driver.userRoute) {
        const user = await userOf(page, url);
        assert.equal(user.isAuthenticated, false, 'the Logto session is cleared');
      }
      await shot(page, '04-after-sign-out');
      // A fresh guest after sign-out, with a new cookie; the account keeps its cart.
      await driver.addToCart(page, 4, url);
      await cartIs(page, ['Pride and Prejudice × 1']);
      const fresh = await guestCookie(context, url);
      assert.ok(fresh && fresh.value !== oldGuestCookie);
      await context.clearCookies();
      await driver.home(page, url);
      await signInWithPassword(page, url, username);
      assert.deepEqual(await cartLines(page), account);
      await context.close();
    },
  );

  test(
    'the old guest cookie replayed after the merge is worthless; the next action replaces it',
    step,
    async () => {
      assert.ok(oldGuestCookie);
      const { url, browser } = running();
      const { context, page } = await newPage(browser);
      await context.addCookies([{ name: 'guestmode', value: oldGuestCookie, url }]);
      await driver.home(page, url);
      assert.deepEqual(await cartLines(page), []);
      if (driver.replayedCookie === 'cleared') {
        assert.equal(await guestCookie(context, url), undefined, 'the page deletes it');
      }
      await driver.addToCart(page, 5, url);
      await cartIs(page, ['Moby-Dick × 1']);
      assert.notEqual((await guestCookie(context, url))?.value, oldGuestCookie);
      await context.close();
    },
  );

  if (driver.confirmsConflicts) {
    test(
      'a conflicting theme asks first: the confirm page previews, Merge keeps the account theme and adds the cart',
      step,
      async () => {
        const { url, browser } = running();
        const { context, page } = await newPage(browser);
        await driver.home(page, url);
        // The account has no theme yet: set one as the user.
        await signInWithPassword(page, url, username);
        await driver.chooseTheme(page, 'Dark', url);
        await signOut(page, url);
        // As a guest: a light theme and a book.
        await driver.chooseTheme(page, 'Light', url);
        await driver.addToCart(page, 5, url);
        await cartIs(page, ['Moby-Dick × 1']);
        await page.getByRole('link', { name: 'Sign in' }).click();
        await page.getByLabel('Username').fill(username);
        await page.getByLabel('Password').fill(BOOKSTORE_PASSWORD);
        await Promise.all([
          page.waitForURL(`${url}/merge`),
          page.getByRole('button', { name: 'Sign in' }).click(),
        ]);
        await page.getByRole('heading', { name: 'Merge your guest data?' }).waitFor();
        await shot(page, '05-confirm-merge');
        await Promise.all([
          page.waitForURL(`${url}/`),
          page.getByRole('button', { name: 'Merge' }).click(),
        ]);
        await page.getByRole('button', { name: 'Sign out' }).waitFor();
        assert.ok((await cartLines(page)).includes('Moby-Dick × 1'));
        assert.equal(await page.locator(driver.themeHolder).getAttribute('data-theme'), 'dark');
        assert.equal(await guestCookie(context, url), undefined);
        await context.close();
      },
    );
  }

  return {
    bookstore: () => {
      assert.ok(store, 'the Bookstore is started');
      return store;
    },
    browser: () => {
      assert.ok(browser, 'Chromium is started');
      return browser;
    },
  };
}
