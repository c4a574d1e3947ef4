// What the App Router Bookstore's browser tests share: the demo on a production build (one build
// for both test files when it is up to date), Chromium pages, the app's database read directly,
// and the shop's actions as a visitor clicks them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { freePort } from '@guestmode/testkit';
import type BetterSqlite3 from 'better-sqlite3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { APP_DIR, type NextDemo, pickBuild, startNextAppDemo } from '../src/index.js';

// The driver this Node.js can load (better-sqlite3 13 segfaults on Node 20).
const { Database } = loadSqliteDriver();

export const PASSWORD = 'a long demo password 1';

/** The demo (provider and `next start`) for a test file, on 127.0.0.1 and a free port. */
export async function startTestDemo(dataDir: string, ownBuild: string): Promise<NextDemo> {
  return startNextAppDemo({
    dataDir,
    test: { appPort: await freePort() },
    ...pickBuild(APP_DIR, '.tmp/next-e2e', ownBuild),
    log: (line) => process.stderr.write(`${line}\n`),
  });
}

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

export function cart(page: Page) {
  return page.getByRole('region', { name: 'Cart' });
}

export async function cartLines(page: Page): Promise<string[]> {
  return (await cart(page).getByRole('listitem').allTextContents()).map((t) => t.trim());
}

/** Waits (bounded) until the cart shows `expected`; fails with what it shows otherwise. */
export async function cartIs(page: Page, expected: string[]): Promise<void> {
  let lines: string[] = [];
  for (let attempt = 0; attempt < 100; attempt++) {
    lines = await cartLines(page);
    if (JSON.stringify(lines) === JSON.stringify(expected)) return;
    await page.waitForTimeout(100);
  }
  assert.deepEqual(lines, expected);
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

export async function guestCookie(context: BrowserContext, url: string) {
  return (await context.cookies(url)).find((c) => c.name === 'guestmode');
}

/** The app's database, read directly (its engine runs in the `next start` process). */
export class AppDatabase {
  #db: BetterSqlite3.Database | undefined;
  constructor(private readonly dataDir: string) {}

  get db(): BetterSqlite3.Database {
    this.#db ??= new Database(join(this.dataDir, 'guestmode.db'), {
      readonly: true,
      fileMustExist: true,
    });
    return this.#db;
  }

  guestCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM gm_guests').get() as { n: number }).n;
  }

  cartOf(owner: string): unknown {
    const row = this.db
      .prepare("SELECT value FROM gm_attributes WHERE owner = ? AND name = 'cart'")
      .get(owner) as { value: string } | undefined;
    return row ? JSON.parse(row.value) : undefined;
  }

  /** The cart of the guest `token` names, or `null` once that guest is merged or gone. */
  guestCart(token: string): unknown {
    const id = /^gm_([\w-]+)\./.exec(token)?.[1];
    assert.ok(id, 'a guest credential');
    const row = this.db.prepare('SELECT merged_into FROM gm_guests WHERE id = ?').get(id) as
      | { merged_into: string | null }
      | undefined;
    return row && row.merged_into === null ? this.cartOf(`g:${id}`) : null;
  }

  close(): void {
    this.#db?.close();
  }
}
