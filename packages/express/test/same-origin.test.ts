// The cross-site contract over plain HTTP: what a page on another site can make a browser send
// (Sec-Fetch-Site other than same-origin, a foreign or opaque Origin, cookies without either).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createGuestmode, toErrorResponse } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { closeServer, listen } from '@guestmode/testkit';
import express, { type ErrorRequestHandler } from 'express';
import { guestmode, handleGuestmodeAuthRoutes } from '../src/index.js';
import {
  Browser,
  type Fixture,
  finishSignIn,
  profile,
  SAME_ORIGIN,
  setAttribute,
  signIn,
  signOutForm,
  startFixture,
  startSignIn,
} from './helpers.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

let f: Fixture;
before(async () => {
  f = await startFixture();
});
after(async () => {
  await f?.close();
});

function write(browser: Browser, headers: Record<string, string>) {
  return browser.fetch(`${f.url}/attributes/cart`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ value: [{ id: 'evil', quantity: 1 }] }),
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
      { origin: 'https://evil.example' },
      { origin: 'null' },
    ]) {
      const browser = new Browser();
      const res = await write(browser, headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal(await codeOf(res), 'cross_site_request');
      assert.equal(browser.get(f.url, 'guestmode'), undefined);
    }
    // With cookies but neither header, the request may come from another site's page.
    const withSession = new Browser();
    withSession.plant(f.url, 'connect.sid', 'whatever');
    assert.equal((await write(withSession, {})).status, 403);
    // Without any cookie it is a non-browser client: allowed.
    assert.equal((await write(new Browser(), {})).status, 200);
  });

  test('a cross-site request never replaces a guest cookie', async () => {
    const browser = new Browser();
    await setAttribute(browser, f.url, 'cart', [{ id: 'mine', quantity: 1 }]);
    const mine = browser.get(f.url, 'guestmode')!.value;
    // A dead cookie the attacker got the browser to hold would be replaced by a new guest.
    await f.engine.merge({ guestToken: mine, userId: 'someone' });
    const res = await write(browser, { 'sec-fetch-site': 'cross-site' });
    assert.equal(res.status, 403);
    assert.equal(
      res.headers.getSetCookie().some((c) => /^guestmode=gm_/.test(c)),
      false,
      'no new guest cookie',
    );
  });
});

describe('sign-in started from another site', () => {
  test('ends on the confirm page, not merged, even with the same guest', async () => {
    const browser = new Browser();
    await setAttribute(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
    const start = await startSignIn(browser, f.url, 'cross-site');
    const { res, url } = await finishSignIn(browser, start, 'alice', 'alice password 1');
    assert.equal(url, `${f.url}/guestmode/confirm`);
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
    const page = await browser.fetch(`${f.url}/logto/sign-out`, {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.match(await page.text(), /<form method="post" action="\/logto\/sign-out">/);
    assert.deepEqual(page.headers.getSetCookie(), []);
    assert.equal((await profile(browser, f.url)).kind, 'user');
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
      const res = await browser.fetch(`${f.url}/logto/sign-out`, {
        method: 'POST',
        headers: { ...FORM, ...headers },
        body: new URLSearchParams(fields).toString(),
      });
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(await codeOf(res), code);
    }
    const put = await browser.fetch(`${f.url}/logto/sign-out`, { method: 'PUT' });
    assert.equal(put.status, 405);
    assert.equal((await profile(browser, f.url)).kind, 'user', 'still signed in');
  });

  test("an anonymous POST leaves the visitor's guest cookie", async () => {
    const browser = new Browser();
    await setAttribute(browser, f.url, 'theme', 'dark');
    const form = await signOutForm(browser, f.url);
    const res = await browser.fetch(`${f.url}${form.action}`, {
      method: 'POST',
      headers: { ...FORM, ...SAME_ORIGIN },
      body: new URLSearchParams(form.fields).toString(),
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), f.url);
    assert.equal(
      res.headers.getSetCookie().some((c) => c.startsWith('guestmode=')),
      false,
    );
    assert.deepEqual((await profile(browser, f.url)).attributes, { theme: 'dark' });
  });
});

test('every answer of the routes says Cache-Control: no-store', async () => {
  const browser = new Browser();
  await setAttribute(browser, f.url, 'theme', 'dark');
  const start = await browser.fetch(`${f.url}/logto/sign-in`, { headers: SAME_ORIGIN });
  assert.equal(start.status, 302);
  assert.equal(start.headers.get('cache-control'), 'no-store');
  const failed = await browser.fetch(`${f.url}/logto/sign-in-callback?code=x&state=y`);
  assert.equal(failed.status, 400);
  assert.equal(failed.headers.get('cache-control'), 'no-store');
  const confirm = await browser.fetch(`${f.url}/guestmode/confirm`);
  assert.equal(confirm.status, 302);
  assert.equal(confirm.headers.get('cache-control'), 'no-store');
  const merge = await browser.fetch(`${f.url}/guestmode/merge`, { method: 'POST' });
  assert.equal(merge.headers.get('cache-control'), 'no-store');
});

describe('HTTPS is decided by the base URL, not by the request', () => {
  test('behind a TLS proxy without trust proxy the cookie keeps __Host- and Secure', async () => {
    const engine = createGuestmode({ storage: await openSqliteStorage({ database: ':memory:' }) });
    const app = express();
    app.use(guestmode({ guestmode: engine, baseUrl: 'https://shop.example' }));
    app.post('/theme', async (req, res) => {
      await req.guest.set('theme', 'dark');
      res.json({ kind: req.guest.kind });
    });
    app.get('/', async (req, res) => {
      res.json({ kind: req.guest.kind });
    });
    const server = createServer(app);
    const url = await listen(server);
    after(async () => {
      await closeServer(server);
      await engine.close();
    });
    const browser = new Browser();
    // The proxy talks plain HTTP to the app; the browser's request came from the app's page.
    const res = await browser.fetch(`${url}/theme`, {
      method: 'POST',
      headers: { origin: 'https://shop.example' },
    });
    assert.equal(res.status, 200);
    const cookie = browser.get(url, '__Host-guestmode');
    assert.ok(cookie, 'the __Host- cookie is set');
    assert.match(cookie.raw, /; Secure/);
    assert.equal(browser.get(url, 'guestmode'), undefined);
    assert.deepEqual(await (await browser.fetch(`${url}/`)).json(), { kind: 'guest' });
    // The unprefixed name is never read, so a cookie planted without Secure is ignored.
    const planted = new Browser();
    planted.plant(url, 'guestmode', cookie.value);
    assert.deepEqual(await (await planted.fetch(`${url}/`)).json(), { kind: 'none' });
  });

  test('a base URL that disagrees with the routes, or is not a URL, is a TypeError naming it', async () => {
    const engine = createGuestmode({ storage: await openSqliteStorage({ database: ':memory:' }) });
    after(() => engine.close());
    assert.throws(
      () => guestmode({ guestmode: engine, baseUrl: 'shop.example' }),
      /options\.baseUrl/,
    );
    const app = express();
    const errors: unknown[] = [];
    const logto = { endpoint: 'http://x', appId: 'a', baseUrl: 'http://app.example' };
    app.use(
      handleGuestmodeAuthRoutes({ guestmode: engine, logto: { ...logto, resources: ['r'] } }),
    );
    app.use(guestmode({ guestmode: engine, baseUrl: 'https://shop.example' }));
    const onError: ErrorRequestHandler = (error, _req, res, _next) => {
      errors.push(error);
      res.status(toErrorResponse(error).status).end();
    };
    app.use(onError);
    const server = createServer(app);
    const url = await listen(server);
    after(() => closeServer(server));
    assert.equal((await fetch(`${url}/`)).status, 500);
    assert.ok(errors[0] instanceof TypeError);
    assert.match((errors[0] as Error).message, /options\.baseUrl/);
  });
});
