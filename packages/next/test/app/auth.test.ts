// The sign-in flow's route handlers with @logto/next/server-actions and the local provider over
// HTTP: the merge at the callback, the confirm step, planted cookies, sign-out and cross-site
// requests.
// Next's server sets up its environment (AsyncLocalStorage for the request store) first.
import 'next/dist/server/node-environment-baseline.js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Browser,
  endProviderSession,
  finishSignIn,
  me,
  parseForm,
  postSignOut,
  put,
  SAME_ORIGIN,
  signIn,
  signOutForm,
  startSignIn,
} from '../helpers.js';
import { type AppFixture, startAppFixture } from './helpers.js';

const codeOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string } }).error.code;

describe('the merge at /api/logto/sign-in-callback', () => {
  let f: AppFixture;
  before(async () => {
    f = await startAppFixture();
  });
  after(async () => {
    await f?.close();
  });

  test("the callback merges the browser's guest and deletes its cookie, beside Logto's session", async () => {
    const browser = new Browser();
    await put(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
    const token = browser.get(f.url, 'guestmode')!.value;
    const start = await startSignIn(browser, f.url);
    const record = browser.get(f.url, 'guestmode-signin');
    assert.ok(record, 'the sign-in start is recorded');
    assert.match(record.raw, /HttpOnly/i);
    assert.ok(browser.get(f.url, `logto_${f.logto.appId}`), "@logto/next's cookie beside ours");

    const { url } = await finishSignIn(browser, start, 'alice', 'alice password 1');
    assert.equal(url, `${f.url}/`);
    assert.equal(browser.get(f.url, 'guestmode'), undefined);
    assert.equal(browser.get(f.url, 'guestmode-signin'), undefined, 'start record cleared');
    const seen = await me(browser, f.url);
    assert.equal(seen.kind, 'user');
    assert.equal(seen.userId, f.users.alice);
    assert.deepEqual(seen.attributes, { cart: [{ id: 'b1', quantity: 1 }] });
    assert.equal(await f.engine.validateGuest(token), null, 'the merged credential is used up');
    assert.equal(f.events.at(-1)?.via, 'callback');
    assert.equal(f.events.at(-1)?.result.userId, f.users.alice);
  });

  test('signed in, writes go to the account; a second browser merges into it (carts add up)', async () => {
    const first = new Browser();
    await signIn(first, f.url, 'bob', 'bob password 12');
    await put(first, f.url, 'cart', [{ id: 'b1', quantity: 2 }]);
    assert.equal(first.get(f.url, 'guestmode'), undefined, 'no guest cookie for a user');

    const second = new Browser();
    await put(second, f.url, 'cart', [
      { id: 'b1', quantity: 1 },
      { id: 'b2', quantity: 1 },
    ]);
    await signIn(second, f.url, 'bob', 'bob password 12');
    assert.deepEqual((await me(second, f.url)).attributes.cart, [
      { id: 'b1', quantity: 3 },
      { id: 'b2', quantity: 1 },
    ]);
  });

  test('sign-out (same-origin POST with the CSRF token) ends both sessions and the guest cookie', async () => {
    const browser = new Browser();
    await signIn(browser, f.url, 'alice', 'alice password 1');
    const user = await browser.fetch(`${f.url}/api/logto/user`);
    assert.equal(user.headers.get('cache-control'), 'no-store');
    const { csrfToken } = (await user.json()) as { csrfToken?: string };
    const form = await signOutForm(browser, f.url);
    assert.equal(form.fields.csrf, csrfToken);
    browser.plant(f.url, 'guestmode', 'gm_leftover.x');
    const out = await postSignOut(browser, f.url, form.fields);
    assert.equal(out.status, 303, 'the provider is reached with a GET');
    assert.match(out.headers.get('location')!, /\/oidc\/session\/end\?/);
    assert.equal(browser.get(f.url, 'guestmode'), undefined);
    await endProviderSession(browser, out.headers.get('location')!).catch(() => {});
    const seen = await me(browser, f.url);
    assert.deepEqual(
      { kind: seen.kind, userId: seen.userId, attributes: seen.attributes },
      { kind: 'none', userId: null, attributes: {} },
    );
  });

  test('sign-out refuses a POST without the token or from another site; GET changes nothing', async () => {
    const browser = new Browser();
    await signIn(browser, f.url, 'bob', 'bob password 12');
    const page = await browser.fetch(`${f.url}/api/logto/sign-out`, {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    const form = parseForm(await page.text(), '/api/logto/sign-out');
    for (const [fields, headers, code] of [
      [{}, SAME_ORIGIN, 'csrf_failed'],
      [{ csrf: 'x'.repeat(32) }, SAME_ORIGIN, 'csrf_failed'],
      [form.fields, { origin: 'null' }, 'cross_site_request'],
      [form.fields, { 'sec-fetch-site': 'cross-site' }, 'cross_site_request'],
    ] as const) {
      const res = await browser.fetch(`${f.url}/api/logto/sign-out`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      });
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('vary'), 'Cookie');
      assert.equal(await codeOf(res), code);
    }
    assert.equal((await me(browser, f.url)).kind, 'user', 'still signed in');
  });
});

describe('guests the browser did not start with', () => {
  let f: AppFixture;
  before(async () => {
    f = await startAppFixture();
  });
  after(async () => {
    await f?.close();
  });

  async function attackerGuest() {
    const attacker = new Browser();
    await put(attacker, f.url, 'cart', [{ id: 'evil', quantity: 9 }]);
    return attacker.get(f.url, 'guestmode')!.value;
  }

  test('a cookie planted during the sign-in is not merged; the user is asked; discard deletes it', async () => {
    const planted = await attackerGuest();
    const victim = new Browser();
    const start = await startSignIn(victim, f.url);
    victim.plant(f.url, 'guestmode', planted);
    const { res, url } = await finishSignIn(victim, start, 'alice', 'alice password 1');
    assert.equal(url, `${f.url}/api/guestmode/confirm`);
    const html = await res.text();
    assert.match(html, /not there when you started signing in/);
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {});

    // What a Server Component confirm page reads.
    const rsc = (await (await victim.fetch(`${f.url}/api/rsc`)).json()) as {
      pending: { reason: string; action: string } | null;
    };
    assert.equal(rsc.pending?.reason, 'unbound');
    assert.equal(rsc.pending?.action, '/api/guestmode/merge');

    const form = parseForm(html, '/api/guestmode/merge');
    const forged = await victim.fetch(`${f.url}${form.action}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'https://evil.example',
      },
      body: new URLSearchParams({ ...form.fields, decision: 'merge' }).toString(),
    });
    assert.equal(forged.status, 403);
    assert.equal(await codeOf(forged), 'cross_site_request');
    const { url: landed } = await victim.submit(
      `${f.url}${form.action}`,
      { ...form.fields, decision: 'discard' },
      SAME_ORIGIN,
    );
    assert.equal(landed, `${f.url}/`);
    assert.equal(victim.get(f.url, 'guestmode'), undefined, 'planted cookie deleted');
    assert.equal(await f.engine.validateGuest(planted), null, 'the discarded guest is deleted');
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {});
  });

  test('an accepted unbound guest is merged through the confirm form', async () => {
    const planted = await attackerGuest();
    const browser = new Browser();
    const start = await startSignIn(browser, f.url);
    browser.plant(f.url, 'guestmode', planted);
    const { res } = await finishSignIn(browser, start, 'bob', 'bob password 12');
    const form = parseForm(await res.text(), '/api/guestmode/merge');
    const { url } = await browser.submit(
      `${f.url}${form.action}`,
      { ...form.fields, decision: 'merge' },
      { origin: f.url },
    );
    assert.equal(url, `${f.url}/`);
    assert.deepEqual((await me(browser, f.url)).attributes.cart, [{ id: 'evil', quantity: 9 }]);
    assert.equal(f.events.at(-1)?.via, 'confirm');
  });

  test('a sign-in started from another site ends on the confirm page, not merged', async () => {
    const browser = new Browser();
    await put(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
    const start = await startSignIn(browser, f.url, 'cross-site');
    const { res, url } = await finishSignIn(browser, start, 'alice', 'alice password 1');
    assert.equal(url, `${f.url}/api/guestmode/confirm`);
    assert.match(await res.text(), /started from another site/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {});
  });

  test('a callback this browser did not start is refused without a merge', async () => {
    const browser = new Browser();
    const failed = await browser.fetch(`${f.url}/api/logto/sign-in-callback?code=x&state=y`);
    assert.equal(failed.status, 400);
    assert.equal(await codeOf(failed), 'sign_in_failed');
    assert.equal(failed.headers.get('cache-control'), 'no-store');
    const anonymous = await browser.fetch(`${f.url}/api/logto/user`);
    assert.equal(((await anonymous.json()) as { csrfToken?: string }).csrfToken, undefined);
    assert.equal((await browser.fetch(`${f.url}/api/logto/nope`)).status, 404);
  });
});
