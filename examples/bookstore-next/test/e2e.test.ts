// The Next.js Bookstore in headless Chromium against a production build (`next build` here, in
// the set-up, then `next start`) and the local provider: the Bookstores' journey, the shop's
// writes made by `useGuest()` through the guest API.

import { freePort } from '@guestmode/testkit';
import { bookstoreJourney } from '@guestmode/testkit/bookstore';
import type { Page } from 'playwright-core';
import { startNextDemo } from '../src/index.js';

/** Clicks with `click` and waits until the guest API has answered the write of `attribute`. */
async function write(page: Page, attribute: string, click: () => Promise<void>) {
  await Promise.all([
    page.waitForResponse(
      (r) =>
        r.url().endsWith(`/api/guestmode/attributes/${attribute}`) &&
        r.request().method() === 'PUT',
    ),
    click(),
  ]);
}

bookstoreJourney({
  // Its own build folder (under the git-ignored .tmp/): never clobbers `npm run start:next`'s
  // build, and is reused by the next run when no source changed.
  start: async (dataDir) =>
    startNextDemo({
      dataDir,
      test: { appPort: await freePort() },
      distDir: '.tmp/next-e2e',
      log: (line) => process.stderr.write(`${line}\n`),
    }),
  startTimeoutMs: 240_000,
  shots: { dir: new URL('../test-results/', import.meta.url).pathname, prefix: '' },
  home: async (page, url) => {
    await page.goto(url);
    await page.locator('.account a').first().waitFor();
  },
  addToCart: (page, index) =>
    write(page, 'cart', () => page.getByRole('button', { name: 'Add to cart' }).nth(index).click()),
  chooseTheme: (page, label) =>
    write(page, 'theme', () => page.getByRole('button', { name: label }).click()),
  themeHolder: '.page',
  userRoute: '/api/logto/user',
  replayedCookie: 'cleared',
  confirmsConflicts: true,
});
