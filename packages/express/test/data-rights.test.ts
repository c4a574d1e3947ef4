// Data rights in an Express app: `req.guest.exportData()` and `req.guest.erase()` delete a guest
// (its cookie too) or erase a signed-in user's profile and merge records.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  Browser,
  type Fixture,
  SAME_ORIGIN,
  setAttribute,
  signIn,
  startFixture,
} from './helpers.js';

let f: Fixture;
before(async () => {
  f = await startFixture();
});
after(async () => {
  await f?.close();
});

test('a guest exports and erases itself: the cookie goes and the guest is gone', async () => {
  const browser = new Browser();
  await setAttribute(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
  const token = browser.get(f.url, 'guestmode')!.value;
  const exported = (await (await browser.fetch(`${f.url}/export`)).json()) as {
    kind: string;
    attributes: unknown;
    merges: unknown[];
  };
  assert.equal(exported.kind, 'guest');
  assert.deepEqual(exported.attributes, { cart: [{ id: 'b1', quantity: 1 }] });
  assert.deepEqual(exported.merges, []);

  const erased = await browser.fetch(`${f.url}/erase`, { method: 'POST', headers: SAME_ORIGIN });
  assert.deepEqual(await erased.json(), { erased: true });
  assert.equal(browser.get(f.url, 'guestmode'), undefined, 'the cookie is cleared');
  assert.equal(await f.engine.validateGuest(token), null);
});

test('a signed-in user exports their profile and merges, then erases both', async () => {
  const browser = new Browser();
  await setAttribute(browser, f.url, 'theme', 'dark');
  await signIn(browser, f.url, 'bob', 'bob password 12');
  const exported = (await (await browser.fetch(`${f.url}/export`)).json()) as {
    kind: string;
    attributes: unknown;
    merges: { guestId: string }[];
  };
  assert.equal(exported.kind, 'user');
  assert.deepEqual(exported.attributes, { theme: 'dark' });
  assert.equal(exported.merges.length, 1);

  const erased = await browser.fetch(`${f.url}/erase`, { method: 'POST', headers: SAME_ORIGIN });
  assert.deepEqual(await erased.json(), { erased: true });
  assert.deepEqual(await f.engine.exportUser(f.users.bob), {
    userId: f.users.bob,
    attributes: {},
    merges: [],
  });
});
