import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import {
  clearedGuestCookie,
  guestCookie,
  guestmode,
  handleGuestmodeAuthRoutes,
  readCookie,
} from '../src/index.js';
import {
  Browser,
  type Fixture,
  finishSignIn,
  parseForm,
  profile,
  SAME_ORIGIN,
  setAttribute,
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

test('no guest is created until the first write; the first write sets an HttpOnly Lax cookie', async () => {
  const browser = new Browser();
  const first = await browser.fetch(`${f.url}/`);
  assert.deepEqual(await first.json(), { kind: 'none', id: null, userId: null, attributes: {} });
  assert.equal(
    first.headers.getSetCookie().some((c) => c.startsWith('guestmode=')),
    false,
  );

  const { kind, id } = await setAttribute(browser, f.url, 'cart', [{ id: 'b1', quantity: 2 }]);
  assert.equal(kind, 'guest');
  assert.ok(id);
  const cookie = browser.get(f.url, 'guestmode');
  assert.ok(cookie, 'guest cookie set');
  assert.match(cookie.value, /^gm_/);
  assert.match(cookie.raw, /; Path=\//);
  assert.match(cookie.raw, /; HttpOnly/);
  assert.match(cookie.raw, /; SameSite=Lax/);
  assert.match(cookie.raw, /; Expires=/);
  assert.doesNotMatch(cookie.raw, /Secure|Domain/i);

  await setAttribute(browser, f.url, 'theme', 'dark');
  const seen = await profile(browser, f.url);
  assert.equal(seen.kind, 'guest');
  assert.equal(seen.id, id, 'the second write reuses the guest');
  assert.deepEqual(seen.attributes, { cart: [{ id: 'b1', quantity: 2 }], theme: 'dark' });

  const deleted = await browser.fetch(`${f.url}/attributes/theme`, { method: 'DELETE' });
  assert.deepEqual(await deleted.json(), { deleted: true });
  assert.deepEqual((await profile(browser, f.url)).attributes, {
    cart: [{ id: 'b1', quantity: 2 }],
  });
  // Deleting before any guest exists creates nothing.
  const fresh = new Browser();
  const none = await fresh.fetch(`${f.url}/attributes/theme`, { method: 'DELETE' });
  assert.deepEqual(await none.json(), { deleted: false });
  assert.equal(fresh.get(f.url, 'guestmode'), undefined);
});

test('an invalid, forged or unknown cookie is cleared and the visitor is a new guest', async () => {
  for (const value of [
    'nonsense',
    'gm_AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB',
  ]) {
    const browser = new Browser();
    browser.plant(f.url, 'guestmode', value);
    const res = await browser.fetch(`${f.url}/`);
    assert.equal(((await res.json()) as { kind: string }).kind, 'none');
    const cleared = res.headers.getSetCookie().find((c) => c.startsWith('guestmode=;'));
    assert.ok(cleared, `cleared ${value}`);
    assert.equal(browser.get(f.url, 'guestmode'), undefined);
  }
  // A token of another guest with a wrong secret is refused too.
  const { token } = await f.engine.createGuest({ theme: 'dark' });
  const forged = `${token.slice(0, -4)}AAAA`;
  const browser = new Browser();
  browser.plant(f.url, 'guestmode', forged === token ? `${token.slice(0, -4)}BBBB` : forged);
  assert.equal((await profile(browser, f.url)).kind, 'none');
});

test('sign-in merges the guest automatically; the user profile replaces the guest; replay is refused', async () => {
  const browser = new Browser();
  await setAttribute(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
  const guestToken = browser.get(f.url, 'guestmode')!.value;

  const { res, url } = await signIn(browser, f.url, 'alice', 'alice password 1');
  assert.equal(url, `${f.url}/`);
  const seen = (await res.json()) as { kind: string; userId: string; attributes: unknown };
  assert.equal(seen.kind, 'user');
  assert.equal(seen.userId, f.users.alice);
  assert.deepEqual(seen.attributes, { cart: [{ id: 'b1', quantity: 1 }] });
  assert.equal(browser.get(f.url, 'guestmode'), undefined, 'guest cookie deleted by the merge');

  // Writes now go to the user (principal switch), with the same handler code.
  assert.equal((await setAttribute(browser, f.url, 'theme', 'dark')).kind, 'user');
  assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {
    cart: [{ id: 'b1', quantity: 1 }],
    theme: 'dark',
  });

  // A second browser with its own guest cart signs in as the same user: quantities add up.
  const other = new Browser();
  await setAttribute(other, f.url, 'cart', [
    { id: 'b1', quantity: 2 },
    { id: 'b2', quantity: 1 },
  ]);
  const second = await signIn(other, f.url, 'alice', 'alice password 1');
  assert.deepEqual(((await second.res.json()) as { attributes: unknown }).attributes, {
    cart: [
      { id: 'b1', quantity: 3 },
      { id: 'b2', quantity: 1 },
    ],
    theme: 'dark',
  });

  // The merged guest's cookie, replayed in a new browser, is refused and cleared.
  const replay = new Browser();
  replay.plant(f.url, 'guestmode', guestToken);
  const replayed = await replay.fetch(`${f.url}/`);
  assert.deepEqual(await replayed.json(), { kind: 'none', id: null, userId: null, attributes: {} });
  assert.ok(replayed.headers.getSetCookie().some((c) => c.startsWith('guestmode=;')));
});

test('sign-in replaces the session id (a session id planted before sign-in is void)', async () => {
  const browser = new Browser();
  await setAttribute(browser, f.url, 'theme', 'light');
  const start = await startSignIn(browser, f.url);
  const before = browser.get(f.url, 'connect.sid')!.value;
  await finishSignIn(browser, start, 'bob', 'bob password 12');
  const afterId = browser.get(f.url, 'connect.sid')!.value;
  assert.notEqual(afterId, before);
  const stale = new Browser();
  stale.plant(f.url, 'connect.sid', before);
  assert.equal((await profile(stale, f.url)).kind, 'none');
});

test('sign-out deletes the guest cookie and the session: the next visit is a fresh guest', async () => {
  const browser = new Browser();
  await signIn(browser, f.url, 'bob', 'bob password 12');
  assert.equal((await profile(browser, f.url)).kind, 'user');
  // A guest cookie still present at sign-out (e.g. a discarded merge) goes too.
  const { token } = await f.engine.createGuest({ theme: 'dark' });
  browser.plant(f.url, 'guestmode', token);
  const sid = browser.get(f.url, 'connect.sid')!.value;

  const form = await signOutForm(browser, f.url);
  const first = await browser.fetch(`${f.url}${form.action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...SAME_ORIGIN },
    body: new URLSearchParams(form.fields).toString(),
  });
  assert.equal(first.status, 303);
  assert.match(first.headers.get('location') ?? '', /\/oidc\/session\/end\?/);
  assert.ok(first.headers.getSetCookie().some((c) => c.startsWith('guestmode=;')));
  assert.equal(browser.get(f.url, 'guestmode'), undefined);
  const end = parseForm(
    await (await browser.follow(first.headers.get('location')!)).res.text(),
    '/session/end/confirm',
  );
  await browser.submit(new URL(end.action, first.headers.get('location')!).href, end.fields);

  const seen = await profile(browser, f.url);
  assert.deepEqual(seen, { kind: 'none', id: null, userId: null, attributes: {} });
  // The old session id is destroyed server-side, not just forgotten by this browser.
  const stale = new Browser();
  stale.plant(f.url, 'connect.sid', sid);
  assert.equal((await profile(stale, f.url)).kind, 'none');
});

test('cookie helpers return data; readCookie parses a header', () => {
  const expires = new Date('2030-01-01T00:00:00Z');
  assert.deepEqual(guestCookie('guestmode', 'gm_x', { secure: true, expires }), {
    name: '__Host-guestmode',
    value: 'gm_x',
    attributes: { httpOnly: true, sameSite: 'lax', secure: true, path: '/', expires },
  });
  assert.equal(clearedGuestCookie('guestmode', { secure: false }).attributes.expires.getTime(), 0);
  assert.equal(readCookie('a=1; guestmode=gm_%41; b=2', 'guestmode'), 'gm_A');
  assert.equal(readCookie('a=1', 'guestmode'), undefined);
  assert.equal(readCookie(undefined, 'guestmode'), undefined);
});

test('options are validated once, naming the option', async () => {
  const engine = createGuestmode({ storage: await openSqliteStorage({ database: ':memory:' }) });
  after(() => engine.close());
  assert.throws(() => guestmode({} as never), /options\.guestmode/);
  assert.throws(() => guestmode({ guestmode: engine, cookieName: '__Host-x' }), /cookieName/);
  const logto = {
    endpoint: 'http://x',
    appId: 'a',
    baseUrl: 'http://app',
    resources: ['https://r'],
  };
  assert.throws(
    () => handleGuestmodeAuthRoutes({ guestmode: engine, logto, resource: 'https://other' }),
    /options\.resource/,
  );
  assert.throws(
    () => handleGuestmodeAuthRoutes({ guestmode: engine, logto: { ...logto, resources: [] } }),
    /options\.resource/,
  );
  assert.throws(
    () => handleGuestmodeAuthRoutes({ guestmode: engine, logto, confirm: 'always' as never }),
    /options\.confirm/,
  );
  assert.throws(
    () => handleGuestmodeAuthRoutes({ guestmode: engine, logto, confirmPath: '//evil' }),
    /options\.confirmPath/,
  );
});
