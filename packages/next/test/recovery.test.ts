// A merge that fails at the Pages Router's sign-in callback because the provider's JWKS cannot
// be fetched: the user is signed in, told the cart is being moved, and the merge is retried; a
// sign-out while it waits keeps the guest.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MergeEvent } from '../src/index.js';
import {
  Browser,
  endProviderSession,
  type Fixture,
  jwksSwitch,
  postSignOut,
  put,
  RESOURCE,
  signIn,
  signOutForm,
  startFixture,
} from './helpers.js';

let f: Fixture;
let jwks: Awaited<ReturnType<typeof jwksSwitch>>;
const events: MergeEvent[] = [];
before(async () => {
  jwks = await jwksSwitch();
  f = await startFixture({ onMerge: (event) => void events.push(event) }, (idp) => {
    jwks.issuer = idp.issuer;
    return { accessTokens: { issuer: idp.issuer, audience: RESOURCE, jwksUri: jwks.url } };
  });
});
after(async () => {
  await f?.close();
  if (jwks) await new Promise((resolve) => jwks.server.close(resolve));
});

interface Profile {
  kind: string;
  attributes: Record<string, unknown>;
  mergePending?: true;
}

async function profile(browser: Browser): Promise<Profile> {
  const res = await browser.fetch(`${f.url}/api/guestmode/profile`);
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as Profile;
}

// One test: once the keys have been fetched the verifier caches them, so every outage-time
// sign-in happens before the switch turns the keys back on.
test('the merge waits for the keys: retried on the next requests, or kept across a sign-out', async () => {
  const leaving = new Browser();
  const staying = new Browser();
  const carts = { leaving: [{ id: 'b2', quantity: 1 }], staying: [{ id: 'b3', quantity: 2 }] };
  await put(leaving, f.url, 'cart', carts.leaving);
  await put(staying, f.url, 'cart', carts.staying);
  await signIn(leaving, f.url, 'bob', 'bob password 12');
  await signIn(staying, f.url, 'alice', 'alice password 1');
  for (const browser of [leaving, staying]) {
    const waiting = await profile(browser);
    assert.equal(waiting.kind, 'user');
    assert.equal(waiting.mergePending, true);
    assert.deepEqual(waiting.attributes, {});
    assert.ok(browser.get(f.url, 'guestmode-recover'));
  }

  // A sign-out while the merge waits keeps the guest.
  const form = await signOutForm(leaving, f.url);
  const out = await postSignOut(leaving, f.url, form.fields);
  assert.equal(out.status, 303);
  await endProviderSession(leaving, out.headers.get('location')!);
  assert.ok(leaving.get(f.url, 'guestmode'), 'the guest cookie survives the sign-out');
  assert.equal(leaving.get(f.url, 'guestmode-recover'), undefined);
  const visitor = await profile(leaving);
  assert.equal(visitor.kind, 'guest');
  assert.deepEqual(visitor.attributes, { cart: carts.leaving });

  jwks.up = true;
  // The signed-in browser's next requests merge (bounded: 40 tries, about 20 s; a retry waits
  // at least 5 s after the last one).
  let seen: Profile | undefined;
  for (let i = 0; i < 40 && (seen === undefined || seen.mergePending); i++) {
    if (i > 0) await sleep(500);
    seen = await profile(staying);
  }
  assert.equal(seen?.mergePending, undefined, 'the merge was retried');
  assert.deepEqual(seen?.attributes, { cart: carts.staying });
  assert.equal(staying.get(f.url, 'guestmode'), undefined);
  assert.equal(staying.get(f.url, 'guestmode-recover'), undefined);

  // The next sign-in of the browser that left merges its guest in the callback.
  await signIn(leaving, f.url, 'bob', 'bob password 12');
  const merged = await profile(leaving);
  assert.equal(merged.mergePending, undefined);
  assert.deepEqual(merged.attributes, { cart: carts.leaving });
  assert.equal(leaving.get(f.url, 'guestmode'), undefined);

  assert.deepEqual(
    events.map((e) => [e.via, e.replayed]),
    [
      ['retry', false],
      ['callback', false],
    ],
  );
});
