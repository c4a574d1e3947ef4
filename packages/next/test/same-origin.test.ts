// The cross-site contract over plain HTTP: what a page on another site can make a browser send
// (Sec-Fetch-Site other than same-origin, a foreign or opaque Origin, cookies without either).
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  Browser,
  type Fixture,
  finishSignIn,
  me,
  postSignOut,
  put,
  SAME_ORIGIN,
  signIn,
  signOutForm,
  startFixture,
  startSignIn,
} from './helpers.js';

let f: Fixture;
before(async () => {
  f = await startFixture();
});
after(async () => {
  await f?.close();
});

function write(browser: Browser, headers: Record<string, string>) {
  return browser.fetch(`${f.url}/api/guestmode/attributes/cart`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify([{ id: 'evil', quantity: 1 }]),
  });
}

async function codeOf(res: Response) {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe('guest creation and the guest cookie', () => {
  test('a cross-site request cannot create a guest: 403 cross_site_request, no cookie', async () => {
    for (const headers of <Record<string, string>[]>[
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'null' },
    ]) {
      const browser = new Browser();
      const res = await write(browser, headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal(await codeOf(res), 'cross_site_request');
      assert.equal(browser.get(f.url, 'guestmode'), undefined);
    }
    const withCookie = new Browser();
    withCookie.plant(f.url, 'other', 'x');
    assert.equal((await write(withCookie, {})).status, 403, 'cookies but neither header');
    assert.equal((await write(new Browser(), {})).status, 200, 'a non-browser client');
  });

  test('withGuest and getServerSideProps refuse to create a guest for a cross-site request', async () => {
    // A navigation from another site renders a page; a write there must not make a guest.
    const req = Object.assign(new IncomingMessage(new Socket()), {
      method: 'GET',
      url: '/',
      headers: { cookie: 'other=x', 'sec-fetch-site': 'cross-site' },
      cookies: { other: 'x' },
    });
    const guest = await f.gm.getGuest(req, new ServerResponse(req));
    await assert.rejects(guest.set('cart', []), { code: 'cross_site_request' });
  });
});

describe('sign-in started from another site', () => {
  test('ends on the confirm page, not merged, even with the same guest', async () => {
    const browser = new Browser();
    await put(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
    const start = await startSignIn(browser, f.url, 'cross-site');
    const { res, url } = await finishSignIn(browser, start, 'alice', 'alice password 1');
    assert.equal(url, `${f.url}/api/guestmode/confirm`);
    assert.match(await res.text(), /started from another site/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {});
  });
});

describe('sign-out', () => {
  test('GET answers a page with a button and changes nothing', async () => {
    const browser = new Browser();
    await signIn(browser, f.url, 'bob', 'bob password 12');
    const { token } = await f.engine.createGuest({ theme: 'dark' });
    browser.plant(f.url, 'guestmode', token);
    const page = await browser.fetch(`${f.url}/api/logto/sign-out`, {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.match(await page.text(), /<form method="post" action="\/api\/logto\/sign-out">/);
    assert.equal(
      page.headers.getSetCookie().some((c) => /^(guestmode=|logto_)/.test(c)),
      false,
      'neither the guest nor the Logto session is touched',
    );
    assert.equal((await me(browser, f.url)).kind, 'user');
    assert.equal(browser.get(f.url, 'guestmode')?.value, token);
  });

  test('POST without the CSRF token, or from another site, is refused', async () => {
    const browser = new Browser();
    await signIn(browser, f.url, 'bob', 'bob password 12');
    const form = await signOutForm(browser, f.url);
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
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(await codeOf(res), code);
    }
    assert.equal((await me(browser, f.url)).kind, 'user', 'still signed in');
  });

  test('the CSRF token is in /api/logto/user for a signed-in user; an anonymous POST keeps the guest', async () => {
    const user = new Browser();
    await signIn(user, f.url, 'alice', 'alice password 1');
    const seen = await user.fetch(`${f.url}/api/logto/user`);
    assert.equal(seen.headers.get('cache-control'), 'no-store');
    const { csrfToken } = (await seen.json()) as { csrfToken?: string };
    assert.equal(csrfToken, (await signOutForm(user, f.url)).fields.csrf);

    const visitor = new Browser();
    await put(visitor, f.url, 'theme', 'dark');
    const res = await postSignOut(visitor, f.url, (await signOutForm(visitor, f.url)).fields);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), f.url);
    assert.equal(
      res.headers.getSetCookie().some((c) => c.startsWith('guestmode=')),
      false,
    );
    assert.deepEqual((await me(visitor, f.url)).attributes, { theme: 'dark' });
  });
});

test('every answer of the routes says Cache-Control: no-store', async () => {
  const browser = new Browser();
  const start = await browser.fetch(`${f.url}/api/logto/sign-in`, { headers: SAME_ORIGIN });
  assert.equal(start.status, 302);
  assert.equal(start.headers.get('cache-control'), 'no-store');
  const failed = await browser.fetch(`${f.url}/api/logto/sign-in-callback?code=x&state=y`);
  assert.equal(failed.status, 400);
  assert.equal(await codeOf(failed), 'sign_in_failed');
  assert.equal(failed.headers.get('cache-control'), 'no-store');
  const anonymous = await browser.fetch(`${f.url}/api/logto/user`);
  assert.equal(anonymous.headers.get('cache-control'), 'no-store');
  assert.equal(((await anonymous.json()) as { csrfToken?: string }).csrfToken, undefined);
});
