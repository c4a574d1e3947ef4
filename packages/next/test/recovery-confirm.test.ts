// A merge that fails at the Pages Router's sign-in callback because the provider's JWKS cannot be
// fetched, and whose retry must ask (`confirm: 'on-conflict'`, the themes conflict): the next
// page (`withGuestSsr`) redirects to the confirm page once, and the decision merges once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MergeEvent } from '../src/index.js';
import {
  Browser,
  parseForm,
  put,
  SAME_ORIGIN,
  signIn,
  startFixture,
  withSwitchableKeys,
} from './helpers.js';

const events: MergeEvent[] = [];
const keys = withSwitchableKeys((engine) =>
  startFixture({ confirm: 'on-conflict', onMerge: (event) => void events.push(event) }, engine),
);

interface Profile {
  kind: string;
  attributes: Record<string, unknown>;
  mergePending?: true;
  confirmUrl?: string;
}

type Ssr =
  | { props: { profile: Profile } }
  | { redirect: { destination: string; statusCode: number } };

/** What `getServerSideProps` made by `withGuestSsr` returns. */
async function ssr(browser: Browser): Promise<Ssr> {
  const res = await browser.fetch(`${keys.f.url}/api/ssr`);
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as Ssr;
}

async function profile(browser: Browser): Promise<Profile> {
  const res = await browser.fetch(`${keys.f.url}/api/guestmode/profile`);
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as Profile;
}

test('the retried merge asks: the next page is redirected to the confirm page once', async () => {
  await keys.f.engine.setAttribute({ kind: 'user', id: keys.f.users.alice }, 'theme', 'dark');
  const browser = new Browser();
  await put(browser, keys.f.url, 'theme', 'light');
  await put(browser, keys.f.url, 'cart', [{ id: 'b1', quantity: 2 }]);
  await signIn(browser, keys.f.url, 'alice', 'alice password 1');
  assert.equal((await profile(browser)).mergePending, true);

  keys.jwks.up = true;
  // Bounded: 40 tries, about 20 s (a retry waits at least 5 s after the last one).
  let page: Ssr | undefined;
  for (let i = 0; i < 40 && (page === undefined || 'props' in page); i++) {
    if (i > 0) await sleep(500);
    page = await ssr(browser);
  }
  assert.deepEqual(page, { redirect: { destination: '/api/guestmode/confirm', statusCode: 303 } });
  // An API call is not redirected; it says where the decision waits.
  const waiting = await profile(browser);
  assert.equal(waiting.confirmUrl, '/api/guestmode/confirm');
  assert.equal(waiting.mergePending, undefined);

  const confirm = await browser.fetch(`${keys.f.url}/api/guestmode/confirm`);
  assert.equal(confirm.status, 200);
  const html = await confirm.text();
  assert.match(html, /already has some of this data/);
  // Asked once: the next page renders.
  const again = await ssr(browser);
  assert.ok('props' in again, JSON.stringify(again));
  assert.equal(again.props.profile.confirmUrl, '/api/guestmode/confirm');

  const form = parseForm(html, '/api/guestmode/merge');
  const decided = await browser.fetch(`${keys.f.url}${form.action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...SAME_ORIGIN },
    body: new URLSearchParams({ ...form.fields, decision: 'merge' }).toString(),
  });
  assert.equal(decided.status, 303);
  assert.deepEqual(await keys.f.engine.getAttributes({ kind: 'user', id: keys.f.users.alice }), {
    theme: 'dark',
    cart: [{ id: 'b1', quantity: 2 }],
  });
  assert.equal(browser.get(keys.f.url, 'guestmode'), undefined);
  const after = await ssr(browser);
  assert.ok('props' in after);
  assert.equal(after.props.profile.confirmUrl, undefined);
  assert.deepEqual(
    events.map((e) => [e.via, e.replayed]),
    [['confirm', false]],
  );
});
