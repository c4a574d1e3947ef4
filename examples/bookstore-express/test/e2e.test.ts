// The Express Bookstore in headless Chromium with the local provider: the Bookstores' journey
// (every shop action a form post), and the Express Bookstore's own drafts, languages and
// social sign-in.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { bookstoreJourney, newPage } from '@guestmode/testkit/bookstore';
import { startDemo } from '../src/index.js';
import { shop } from './shop.js';

const SHOTS = new URL('../test-results/', import.meta.url).pathname;

const journey = bookstoreJourney({
  start: (dataDir) => startDemo({ dataDir, ports: 0, log: () => {} }),
  shots: { dir: SHOTS, prefix: '' },
  ...shop,
  replayedCookie: 'cleared',
  confirmsConflicts: false,
});

test('drafts and preferences follow a guest who continues with the demo OAuth provider', async () => {
  const { url } = journey.bookstore();
  const { context, page } = await newPage(journey.browser());
  await page.goto(url);
  await Promise.all([
    page.waitForURL(`${url}/`),
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
    page.waitForURL(`${url}/`),
    page.getByRole('button', { name: 'Continue as Ada Lovelace' }).click(),
  ]);
  assert.equal(await page.locator('html').getAttribute('data-theme'), 'dark');
  assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
  await page.getByRole('button', { name: 'サインアウト' }).waitFor();
  assert.match((await page.locator('header').textContent()) ?? '', /Ada Lovelace/);
  await page.goto(`${url}/books/kokoro`);
  assert.equal(await page.getByLabel('レビューの下書き').inputValue(), 'Quiet, and devastating.');
  await page.screenshot({ path: join(SHOTS, '07-social-signed-in-ja-dark.png'), fullPage: true });
  await context.close();
});
