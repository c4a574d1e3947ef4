// What the App Router Bookstore's browser tests share beyond @guestmode/testkit/bookstore: the
// demo on a production build (one build for both test files when it is up to date), the app's
// database read directly, and the shop's Server Actions as a visitor clicks them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { freePort } from '@guestmode/testkit';
import type BetterSqlite3 from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { APP_DIR, type NextDemo, pickBuild, startNextAppDemo } from '../src/index.js';

// The driver this Node.js can load (better-sqlite3 13 segfaults on Node 20).
const { Database } = loadSqliteDriver();

/** The demo (provider and `next start`) for a test file, on 127.0.0.1 and a free port. */
export async function startTestDemo(dataDir: string, ownBuild: string): Promise<NextDemo> {
  return startNextAppDemo({
    dataDir,
    test: { appPort: await freePort() },
    ...pickBuild(APP_DIR, '.tmp/next-e2e', ownBuild),
    log: (line) => process.stderr.write(`${line}\n`),
  });
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
