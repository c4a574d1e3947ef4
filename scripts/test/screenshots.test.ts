// The documentation's pictures, taken by Chromium from the real Bookstore, local provider and
// service dashboard: a guest's cart, the provider's sign-in page, the merged cart, the confirm
// page of a merge with a conflict, and the dashboard. By default they go to a temporary folder
// (so `npm test` checks the journey and leaves tracked files alone); `npm run docs:images` sets
// GUESTMODE_DOCS_IMAGES=1 and they replace docs/images/*.png.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Demo, startDemo } from '@guestmode/example-bookstore-express';
import { buildServer, loadConfig } from '@guestmode/server';
import { launchBrowser } from '@guestmode/testkit';
import type { Browser, Page } from 'playwright-core';

const skip = process.env.GUESTMODE_SKIP_BROWSER ? 'GUESTMODE_SKIP_BROWSER is set' : false;
const tmp = mkdtempSync(join(tmpdir(), 'guestmode-screenshots-'));
const IMAGES = process.env.GUESTMODE_DOCS_IMAGES
  ? fileURLToPath(new URL('../../docs/images/', import.meta.url))
  : join(tmp, 'images');
/** Small pictures: a modest window, never the full page. */
const VIEWPORT = { width: 960, height: 640 };

let browser: Browser;
let demo: Demo;

before(async () => {
  if (skip) return;
  mkdirSync(IMAGES, { recursive: true });
  demo = await startDemo({ dataDir: join(tmp, 'data'), ports: 0, log: () => {} });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await demo?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function shot(page: Page, name: string) {
  const path = join(IMAGES, `${name}.png`);
  await page.screenshot({ path });
  assert.ok(statSync(path).size > 1000, `${name}.png was written`);
}

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ locale: 'en-US', viewport: VIEWPORT });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

async function click(page: Page, name: string, url = `${demo.url}/`) {
  await Promise.all([page.waitForURL(url), page.getByRole('button', { name }).first().click()]);
}

async function signIn(page: Page) {
  const user = demo.demoUser;
  assert.ok(user, 'the demo runs the local provider');
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

function cartLines(page: Page) {
  return page.getByRole('region', { name: 'Cart' }).getByRole('listitem').allTextContents();
}

test('the Bookstore journey: guest cart, sign-in page, merged cart, confirm page', {
  skip,
}, async () => {
  // The account already holds one book, saved from another browser.
  const earlier = await newPage();
  await earlier.goto(demo.url);
  await earlier.getByRole('link', { name: 'Sign in' }).click();
  await signIn(earlier);
  await earlier.getByRole('button', { name: 'Sign out' }).waitFor();
  await click(earlier, 'Add to cart');
  await earlier.context().close();

  const page = await newPage();
  await page.goto(demo.url);
  await click(page, 'Add to cart');
  await page.getByRole('button', { name: 'Add to cart' }).nth(1).click();
  await page.waitForURL(`${demo.url}/`);
  assert.equal((await cartLines(page)).length, 2);
  await shot(page, 'guest-cart');

  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Username').waitFor();
  await shot(page, 'idp-sign-in');
  await signIn(page);
  await page.waitForURL(`${demo.url}/`);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  assert.deepEqual(
    (await cartLines(page)).map((line) => line.trim()),
    ['I Am a Cat × 2', 'Kokoro × 1'],
    "the guest's cart is added to the account's",
  );
  await shot(page, 'merged-cart');

  // The account prefers the dark theme; a later guest picks light: user-wins would drop the
  // guest's choice, so the Bookstore (confirm: 'on-conflict') asks first.
  await click(page, 'Dark');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in' }).waitFor();
  await click(page, 'Light');
  await page.getByRole('button', { name: 'Add to cart' }).nth(2).click();
  await page.waitForURL(`${demo.url}/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await signIn(page);
  await page.waitForURL(`${demo.url}/merge`);
  await page.getByRole('button', { name: /merge/i }).first().waitFor();
  await shot(page, 'confirm-merge');
  await page.context().close();
});

test('the service dashboard after a few guests and merges', { skip }, async () => {
  const adminToken = 'docs-screenshot-admin-token';
  const idp = demo.idp;
  assert.ok(idp, 'the demo runs the local provider');
  const resource = 'https://api.bookstore.local';
  const config = loadConfig({
    env: {
      GUESTMODE_DATABASE_URL: `sqlite:${join(tmp, 'service.db')}`,
      GUESTMODE_ADMIN_TOKEN: adminToken,
      GUESTMODE_MERGE_RULES: '{"cart":"sum-by-key"}',
      GUESTMODE_OIDC_ISSUER: idp.issuer,
      GUESTMODE_OIDC_AUDIENCE: resource,
      GUESTMODE_LOG_LEVEL: 'silent',
      GUESTMODE_STATS_INTERVAL: '1s',
    },
    argv: [],
  });
  const server = await buildServer({ config, logger: false });
  try {
    const { accessToken } = await idp.issueAccessToken({ user: 'demo', resource });
    for (let i = 0; i < 5; i++) {
      const answer = await server.inject({
        method: 'PUT',
        url: '/v1/profile/attributes/cart',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify([{ id: `book-${i}`, quantity: 1 }]),
      });
      assert.equal(answer.statusCode, 201);
      if (i % 2 === 1) continue;
      const merged = await server.inject({
        method: 'POST',
        url: '/v1/merge',
        headers: {
          authorization: `Bearer ${accessToken}`,
          'guest-token': (answer.json() as { token: string }).token,
        },
      });
      assert.equal(merged.statusCode, 200, merged.body);
    }
    const url = await server.listen({ host: '127.0.0.1', port: 0 });
    const context = await browser.newContext({
      locale: 'en-US',
      viewport: VIEWPORT,
      httpCredentials: { username: 'admin', password: adminToken },
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(`${url}/`);
    // The page shows the sampler's figures: wait for a sample taken after the merges.
    await page.getByText('60.0% of guests created').waitFor();
    await shot(page, 'dashboard');
    await context.close();
  } finally {
    await server.close();
  }
});
