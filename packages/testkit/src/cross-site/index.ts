// The cross-site attacks every Bookstore example withstands in headless Chromium, whatever its
// framework: two attacker sites on other loopback addresses (127.0.0.2 and 127.0.0.3, other
// sites than the Bookstore on 127.0.0.1) try to create or replace a guest, write to it, merge it
// silently at sign-in, decide a pending merge, and sign the visitor out, with form posts,
// fetches, images, 307 bounces and forced top-level navigations. No request another site can
// cause may do any of that. Each Bookstore's test file says how to start it, how its shop is
// clicked, and which writes it takes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { Browser } from 'playwright-core';
import { type AttackerSite, startAttackerSite } from '../attacker.js';
import { launchBrowser } from '../chromium.js';
import { attack, type CrossSiteBookstore, type CrossSiteDriver } from './driver.js';
import { sessionTests } from './session.js';
import { guestLimitTest, writeTests } from './writes.js';

export {
  type AppRequest,
  type CrossSiteBookstore,
  type CrossSiteDriver,
  type ForgedWrite,
  guestApiCartCreation,
  guestApiCartWrite,
} from './driver.js';
export {
  type BookstoreRecords,
  type SqliteReader,
  type SqliteReaderClass,
  withSqliteRecords,
} from './records.js';

/**
 * Registers the cross-site tests (and the set-up that starts the Bookstore, Chromium and two
 * attacker sites) in the calling test file.
 *
 * @example
 * crossSiteSuite({ start: (dataDir) => startMyBookstore(dataDir), authRoutes: '/logto', … });
 */
export function crossSiteSuite(driver: CrossSiteDriver): void {
  let browser: Browser | undefined;
  let store: CrossSiteBookstore | undefined;
  let dataDir: string | undefined;
  let attackerA: AttackerSite | undefined;
  let attackerB: AttackerSite | undefined;
  const step = { timeout: driver.stepTimeoutMs ?? 60_000 };

  before(
    async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'bookstore-cross-site-'));
      [browser, attackerA, attackerB] = await Promise.all([
        launchBrowser(),
        startAttackerSite('127.0.0.2'),
        startAttackerSite('127.0.0.3'),
      ]);
      store = await driver.start(dataDir);
    },
    { timeout: driver.startTimeoutMs ?? 60_000 },
  );

  after(async () => {
    await browser?.close();
    await attackerA?.close();
    await attackerB?.close();
    await store?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const running = () => {
    assert.ok(store && browser && attackerA && attackerB, 'the Bookstore and Chromium are started');
    return attack(driver, store, browser, attackerA, attackerB);
  };
  writeTests(driver, running, step);
  sessionTests(driver, running, step);
  // Last: it spends this address's guest budget for the rest of the minute.
  guestLimitTest(driver, running, step);
}
