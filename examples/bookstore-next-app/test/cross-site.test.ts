// The Bookstores' cross-site suite against the App Router Bookstore (production build,
// `next start`), whose shop writes are Server Actions, beside the guest API it also serves.
import assert from 'node:assert/strict';
import {
  crossSiteSuite,
  type ForgedWrite,
  guestApiCartCreation,
  guestApiCartWrite,
} from '@guestmode/testkit/bookstore-cross-site';
import type { Page } from 'playwright-core';
import { shop, startTestDemo } from './fixture.js';

/**
 * Moby-Dick's "Add to cart" Server Action. Its id is public (it is in the page): the attacker
 * copies the form, field for field. The app's own page calls it with a `Next-Action` header,
 * which a cross-site fetch can only send after a CORS preflight.
 */
async function serverAction(page: Page, url: string): Promise<ForgedWrite> {
  await shop.home(page, url);
  const fields = await page
    .locator('form:has(button[title="Moby-Dick"]) input[type="hidden"]')
    .evaluateAll((inputs) =>
      Object.fromEntries(
        inputs.map((i) => [i.getAttribute('name') ?? '', i.getAttribute('value') ?? '']),
      ),
    );
  const action = Object.keys(fields).find((name) => name.startsWith('$ACTION_ID_'));
  assert.ok(action, JSON.stringify(fields));
  return {
    name: 'the Server Action',
    path: '/',
    fields,
    enctype: 'multipart/form-data',
    fetch: {
      method: 'POST',
      headers: {
        'next-action': action.slice('$ACTION_ID_'.length),
        'content-type': 'text/plain;charset=UTF-8',
      },
      body: JSON.stringify([{ id: 'moby-dick' }]),
    },
  };
}

crossSiteSuite({
  start: (dataDir) => startTestDemo(dataDir, '.tmp/next-cross-site'),
  startTimeoutMs: 300_000,
  stepTimeoutMs: 90_000,
  ...shop,
  authRoutes: '/api/logto',
  sessionCookie: /^logto_/,
  personalPages: ['/'],
  // Next writes an App Router page's Vary itself (over any other), and says `private, no-store`
  // for a page that read cookies: no cache, shared or private, may keep it.
  personalPagesCaching: 'private',
  guestApi: '/api/guestmode',
  forgedWrites: async (page, url) => [
    await serverAction(page, url),
    guestApiCartWrite('/api/guestmode'),
  ],
  guestCreation: guestApiCartCreation('/api/guestmode'),
});
