// A merge that fails at the Pages Router's sign-in callback because the provider's JWKS cannot
// be fetched: the user is signed in, told the cart is being moved, and the merge is retried; a
// sign-out while it waits keeps the guest.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MergeEvent } from '../src/index.js';
import {
  Browser,
  endProviderSession,
  postSignOut,
  put,
  signIn,
  signOutForm,
  startFixture,
  withSwitchableKeys,
} from './helpers.js';

const events: MergeEvent[] = [];
const keys = withSwitchableKeys((engine) =>
  startFixture({ onMerge: (event) => void events.push(event) }, engine),
);

interface Profile {
  kind: string;
  attributes: Record<string, unknown>;
  mergePending?: true;
}

async function profile(browser: Browser): Promise<Profile> {
  const res = await browser.fetch(`${keys.f.url}/api/guestmode/profile`);
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as Profile;
}

// One test: once the keys have been fetched the verifier caches them, so every outage-time
// sign-in happens before the switch turns the keys back on.
test('the merge waits for the keys: retried on the next requests, or kept across a sign-out', async () => {
  const leaving = new Browser();
  const staying = new Browser();
  const carts = { leaving: [{ id: 'b2', quantity: 1 }], staying: [{ id: 'b3', quantity: 2 }] };
  await put(leaving, keys.f.url, 'cart', carts.leaving);
  await put(staying, keys.f.url, 'cart', carts.staying);
  await signIn(leaving, keys.f.url, 'bob', 'bob password 12');
  await signIn(staying, keys.f.url, 'alice', 'alice password 1');
  for (const browser of [leaving, staying]) {
    const waiting = await profile(browser);
    assert.equal(waiting.kind, 'user');
    assert.equal(waiting.mergePending, true);
    assert.deepEqual(waiting.attributes, {});
    assert.ok(browser.get(keys.f.url, 'guestmode-recover'));
  }

  // A sign-out while the merge waits keeps the guest.
  const form = await signOutForm(leaving, keys.f.url);
  const out = await postSignOut(leaving, keys.f.url, form.fields);
  assert.equal(out.status, 303);
  await endProviderSession(leaving, out.headers.get('location')!);
  assert.ok(leaving.get(keys.f.url, 'guestmode'), 'the guest cookie survives the sign-out');
  assert.equal(leaving.get(keys.f.url, 'guestmode-recover'), undefined);
  const visitor = await profile(leaving);
  assert.equal(visitor.kind, 'guest');
  assert.deepEqual(visitor.attributes, { cart: carts.leaving });

  keys.jwks.up = true;
  // The signed-in browser's next requests merge (bounded: 40 tries, about 20 s; a retry waits
  // at least 5 s after the last one).
  let seen: Profile | undefined;
  for (let i = 0; i < 40 && (seen === undefined || seen.mergePending); i++) {
    if (i > 0) await sleep(500);
    seen = await profile(staying);
  }
  assert.equal(seen?.mergePending, undefined, 'the merge was retried');
  assert.deepEqual(seen?.attributes, { cart: carts.staying });
  assert.equal(staying.get(keys.f.url, 'guestmode'), undefined);
  assert.equal(staying.get(keys.f.url, 'guestmode-recover'), undefined);

  // The next sign-in of the browser that left merges its guest in the callback.
  await signIn(leaving, keys.f.url, 'bob', 'bob password 12');
  const merged = await profile(leaving);
  assert.equal(merged.mergePending, undefined);
  assert.deepEqual(merged.attributes, { cart: carts.leaving });
  assert.equal(leaving.get(keys.f.url, 'guestmode'), undefined);

  assert.deepEqual(
    events.map((e) => [e.via, e.replayed]),
    [
      ['retry', false],
      ['callback', false],
    ],
  );
});
