// A merge that fails at the App Router's sign-in callback because the provider's JWKS cannot be
// fetched: the user is signed in, told the cart is being moved, and the merge is retried.
// Next's server sets up its environment (AsyncLocalStorage for the request store) first.
import 'next/dist/server/node-environment-baseline.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Browser, put, signIn, withSwitchableKeys } from '../helpers.js';
import { startAppFixture } from './helpers.js';

const keys = withSwitchableKeys((engine) => startAppFixture({}, engine));

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

/** What a Server Component sees (`readGuest()`). */
async function rsc(browser: Browser): Promise<Profile> {
  const res = await browser.fetch(`${keys.f.url}/api/rsc`);
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { profile: Profile }).profile;
}

async function mergesCounted(): Promise<number> {
  const text = await keys.f.engine.metrics.render();
  return Number(/^guestmode_merge_duration_seconds_count\s+(\d+)/m.exec(text)?.[1] ?? 0);
}

test('signed in while the keys are unreachable: the cart is moved once they are back', async () => {
  const browser = new Browser();
  const cart = [{ id: 'b1', quantity: 3 }];
  await put(browser, keys.f.url, 'cart', cart);
  const { url } = await signIn(browser, keys.f.url, 'alice', 'alice password 1');
  assert.equal(url, `${keys.f.url}/`, 'the callback ends at the app, not an error');

  const waiting = await profile(browser);
  assert.equal(waiting.kind, 'user');
  assert.equal(waiting.mergePending, true);
  assert.deepEqual(waiting.attributes, {});
  assert.ok(browser.get(keys.f.url, 'guestmode'), 'the guest cookie is kept');
  assert.match(browser.get(keys.f.url, 'guestmode-recover')?.raw ?? '', /HttpOnly/i);
  assert.equal((await rsc(browser)).mergePending, true, 'a Server Component sees it too');

  keys.jwks.up = true;
  // A Server Component merges (it cannot clear cookies); bounded: 40 tries, about 20 s.
  let seen: Profile | undefined;
  for (let i = 0; i < 40 && (seen === undefined || seen.mergePending); i++) {
    if (i > 0) await sleep(500);
    seen = await rsc(browser);
  }
  assert.equal(seen?.mergePending, undefined, 'the merge was retried');
  assert.deepEqual(seen?.attributes, { cart });

  assert.ok(browser.get(keys.f.url, 'guestmode'), 'a Server Component cannot clear the cookie');
  assert.deepEqual((await rsc(browser)).attributes, { cart }, 'another render merges nothing');
  // The next route handler clears the cookies.
  const merged = await profile(browser);
  assert.deepEqual(merged.attributes, { cart });
  assert.equal(browser.get(keys.f.url, 'guestmode'), undefined);
  assert.equal(browser.get(keys.f.url, 'guestmode-recover'), undefined);
  for (let i = 0; i < 3; i++) assert.deepEqual((await profile(browser)).attributes, { cart });
  assert.equal(await mergesCounted(), 1);
  const retried = keys.f.events.filter((e) => e.via === 'retry');
  assert.deepEqual(
    retried.map((e) => e.replayed),
    [false],
    'reported once',
  );
});
