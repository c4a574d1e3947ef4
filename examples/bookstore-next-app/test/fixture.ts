// What the App Router Bookstore's browser tests share beyond @guestmode/testkit: the demo on a
// production build (one build for both test files when it is up to date), the app's database
// read directly, and the shop's Server Actions as a visitor clicks them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { freePort } from '@guestmode/testkit';
import type { BookstoreDriver } from '@guestmode/testkit/bookstore';
import {
  type CrossSiteBookstore,
  withSqliteRecords,
} from '@guestmode/testkit/bookstore-cross-site';
import type { Page } from 'playwright-core';
import { APP_DIR, type NextDemo, pickBuild, startNextAppDemo } from '../src/index.js';

// The driver this Node.js can load (better-sqlite3 13 segfaults on Node 20).
const { Database } = loadSqliteDriver();

/** The demo (provider and `next start`) for a test file, on 127.0.0.1 and a free port. */
export async function startTestDemo(
  dataDir: string,
  ownBuild: string,
): Promise<NextDemo & Pick<CrossSiteBookstore, 'records'>> {
  const demo = await startNextAppDemo({
    dataDir,
    test: { appPort: await freePort() },
    ...pickBuild(APP_DIR, '.tmp/next-e2e', ownBuild),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  // The engine runs in the `next start` process: the test reads its database file.
  return withSqliteRecords(demo, Database, join(dataDir, 'guestmode.db'));
}

/** Submits a form's Server Action with `click`, and waits for the action's answer. */
export async function runAction(page: Page, click: () => Promise<void>): Promise<void> {
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && 'next-action' in r.request().headers(),
    ),
    click(),
  ]);
  // The answer's headers (and cookies) are in; callers wait for what the page shows.
  assert.equal(response.status(), 200);
}

/** Clicks the `index`th "Add to cart" (a Server Action) and waits for the server's answer. */
export function addToCart(page: Page, index: number): Promise<void> {
  return runAction(page, () =>
    page.getByRole('button', { name: 'Add to cart' }).nth(index).click(),
  );
}

/** How the browser tests click the shop: every button is a form posting a Server Action. */
export const shop = {
  home: async (page, url) => {
    await page.goto(url);
    await page.locator('.account a, .account button').first().waitFor();
  },
  addToCart: (page, index) => addToCart(page, index),
  chooseTheme: (page, label) =>
    runAction(page, () => page.getByRole('button', { name: label }).click()),
  themeHolder: '.page',
  userRoute: '/api/logto/user',
} satisfies Pick<
  BookstoreDriver,
  'home' | 'addToCart' | 'chooseTheme' | 'themeHolder' | 'userRoute'
>;
