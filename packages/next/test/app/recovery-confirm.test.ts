// A merge that fails at the App Router's sign-in callback because the provider's JWKS cannot be
// fetched, and whose retry must ask (`confirm: 'on-conflict'`, the themes conflict). A Server
// Component cannot store the decision, so `readGuest()` redirects through the confirm route,
// which stores it and forwards to the app's confirm page (`confirmPath`); the decision merges once.
// Next's server sets up its environment (AsyncLocalStorage for the request store) first.
import 'next/dist/server/node-environment-baseline.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PendingMerge } from '@guestmode/core/web';
import { Browser, put, SAME_ORIGIN, signIn, withSwitchableKeys } from '../helpers.js';
import { startAppFixture } from './helpers.js';

const keys = withSwitchableKeys((engine) =>
  startAppFixture({ confirm: 'on-conflict', confirmPath: '/merge' }, engine),
);

interface Rendered {
  profile: { kind: string; mergePending?: true; confirmUrl?: string };
  pending: PendingMerge | null;
}

/** A Server Component's render (`readGuest()`, `getPendingMerge()`), or where it redirected. */
async function rsc(browser: Browser): Promise<Rendered | { location: string }> {
  const res = await browser.fetch(`${keys.f.url}/api/rsc`);
  if (res.status >= 300 && res.status < 400) return { location: res.headers.get('location')! };
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as Rendered;
}

test('the retried merge asks: a Server Component redirects through the confirm route once', async () => {
  await keys.f.engine.setAttribute({ kind: 'user', id: keys.f.users.alice }, 'theme', 'dark');
  const browser = new Browser();
  await put(browser, keys.f.url, 'theme', 'light');
  await signIn(browser, keys.f.url, 'alice', 'alice password 1');
  const waiting = await rsc(browser);
  assert.ok('profile' in waiting && waiting.profile.mergePending === true);

  keys.jwks.up = true;
  // Bounded: 40 tries, about 20 s (a retry waits at least 5 s after the last one).
  let seen: Awaited<ReturnType<typeof rsc>> | undefined;
  for (let i = 0; i < 40 && (seen === undefined || 'profile' in seen); i++) {
    if (i > 0) await sleep(500);
    seen = await rsc(browser);
  }
  assert.deepEqual(seen, { location: '/api/guestmode/confirm' });
  assert.equal(browser.get(keys.f.url, 'guestmode-pending'), undefined, 'a render stores nothing');

  const route = await browser.fetch(`${keys.f.url}/api/guestmode/confirm`);
  assert.equal(route.status, 303);
  assert.equal(route.headers.get('location'), '/merge');
  assert.ok(browser.get(keys.f.url, 'guestmode-pending'), 'the route stored the decision to make');
  assert.equal(browser.get(keys.f.url, 'guestmode-recover'), undefined);

  // The app's confirm page renders; asked once, later renders are not redirected.
  const page = await rsc(browser);
  assert.ok('pending' in page && page.pending, JSON.stringify(page));
  assert.equal(page.profile.confirmUrl, '/merge');
  assert.equal(page.pending.reason, 'conflict');
  assert.ok('profile' in (await rsc(browser)));

  const decided = await browser.fetch(`${keys.f.url}${page.pending.action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...SAME_ORIGIN },
    body: new URLSearchParams({ csrf: page.pending.csrfToken, decision: 'merge' }).toString(),
  });
  assert.equal(decided.status, 303);
  assert.deepEqual(await keys.f.engine.getAttributes({ kind: 'user', id: keys.f.users.alice }), {
    theme: 'dark',
  });
  assert.equal(browser.get(keys.f.url, 'guestmode'), undefined);
  const done = await rsc(browser);
  assert.ok('profile' in done && done.profile.confirmUrl === undefined && done.pending === null);
  assert.deepEqual(
    keys.f.events.map((e) => [e.via, e.replayed]),
    [['confirm', false]],
  );
});
