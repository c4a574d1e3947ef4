import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import LogtoClient from '@logto/next';
import { createGuestmodeNext } from '../src/index.js';
import { Browser, type Fixture, me, put, SAME_ORIGIN, startFixture } from './helpers.js';

let f: Fixture;

before(async () => {
  f = await startFixture();
});

after(async () => {
  await f?.close();
});

test('no guest until the first write; the first PUT creates it with an HttpOnly Lax cookie', async () => {
  const browser = new Browser();
  const first = await browser.fetch(`${f.url}/api/guestmode/profile`);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('cache-control'), 'no-store');
  assert.equal(first.headers.get('vary'), 'Cookie');
  assert.deepEqual(await first.json(), { kind: 'none', id: null, userId: null, attributes: {} });
  assert.equal(browser.get(f.url, 'guestmode'), undefined);

  const created = await put(browser, f.url, 'cart', [{ id: 'b1', quantity: 2 }]);
  assert.equal(created.status, 200);
  const profile = (await created.json()) as { kind: string; id: string };
  assert.equal(profile.kind, 'guest');
  const cookie = browser.get(f.url, 'guestmode');
  assert.ok(cookie);
  assert.match(cookie.value, /^gm_/);
  assert.match(cookie.raw, /; Path=\/; HttpOnly; SameSite=Lax; Expires=/);
  assert.doesNotMatch(cookie.raw, /Secure|Domain/i);

  // A JSON string value (Next's body parser hands it over already parsed).
  assert.equal((await put(browser, f.url, 'theme', 'dark')).status, 200);
  const seen = await me(browser, f.url);
  assert.equal(seen.kind, 'guest');
  assert.equal(seen.id, profile.id, 'the second write reuses the guest');
  assert.deepEqual(seen.attributes, { cart: [{ id: 'b1', quantity: 2 }], theme: 'dark' });

  const deleted = await browser.fetch(`${f.url}/api/guestmode/attributes/theme`, {
    method: 'DELETE',
    headers: SAME_ORIGIN,
  });
  assert.deepEqual(((await deleted.json()) as { attributes: unknown }).attributes, {
    cart: [{ id: 'b1', quantity: 2 }],
  });
  // getServerSideProps through withGuestSsr sees the same profile, as JSON-safe props.
  const ssr = await browser.fetch(`${f.url}/api/ssr`);
  assert.deepEqual(await ssr.json(), {
    props: {
      profile: {
        kind: 'guest',
        id: profile.id,
        userId: null,
        attributes: { cart: [{ id: 'b1', quantity: 2 }] },
      },
      isAuthenticated: false,
    },
  });
  // Deleting before any guest exists creates nothing.
  const fresh = new Browser();
  const none = await fresh.fetch(`${f.url}/api/guestmode/attributes/theme`, { method: 'DELETE' });
  assert.equal(none.status, 200);
  assert.equal(fresh.get(f.url, 'guestmode'), undefined);
});

test('a forged, unknown or merged guest cookie is deleted and the visitor starts fresh', async () => {
  const browser = new Browser();
  await put(browser, f.url, 'theme', 'light');
  const token = browser.get(f.url, 'guestmode')!.value;
  await f.engine.merge({ guestToken: token, userId: 'someone' });
  const res = await browser.fetch(`${f.url}/api/guestmode/profile`);
  assert.equal(((await res.json()) as { kind: string }).kind, 'none');
  assert.ok(
    res.headers.getSetCookie().some((c) => /^guestmode=;.*Expires=Thu, 01 Jan 1970/.test(c)),
  );
  assert.equal(browser.get(f.url, 'guestmode'), undefined);

  const forger = new Browser();
  forger.plant(f.url, 'guestmode', `${token.slice(0, -4)}AAAA`);
  assert.equal((await me(forger, f.url)).kind, 'none');
  assert.equal(forger.get(f.url, 'guestmode'), undefined);
});

test('the guest API refuses what it should: JSON only, same origin, right methods, valid names and values', async () => {
  const browser = new Browser();
  const form = await browser.fetch(`${f.url}/api/guestmode/attributes/theme`, {
    method: 'PUT',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...SAME_ORIGIN },
    body: 'dark',
  });
  assert.equal(form.status, 400);
  assert.equal(((await form.json()) as { error: { code: string } }).error.code, 'invalid_request');

  const crossSite = await browser.fetch(`${f.url}/api/guestmode/attributes/theme`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
    body: '"dark"',
  });
  assert.equal(crossSite.status, 403);
  assert.equal(
    ((await crossSite.json()) as { error: { code: string } }).error.code,
    'cross_site_request',
  );

  const wrongMethod = await browser.fetch(`${f.url}/api/guestmode/profile`, { method: 'POST' });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'GET,DELETE');

  assert.equal((await browser.fetch(`${f.url}/api/guestmode/nope`)).status, 404);

  const badName = await put(browser, f.url, 'no spaces', 1);
  assert.equal(badName.status, 400);
  assert.equal(
    ((await badName.json()) as { error: { code: string } }).error.code,
    'invalid_attribute_name',
  );
  const tooBig = await put(browser, f.url, 'big', 'x'.repeat(70 * 1024));
  assert.equal(tooBig.status, 413);
  assert.equal(browser.get(f.url, 'guestmode'), undefined, 'refused writes create no guest');
});

test('options are checked once, naming the option', async () => {
  const engine = createGuestmode({ storage: await openSqliteStorage({ database: ':memory:' }) });
  const logtoClient = new LogtoClient(f.logto);
  const ok = { guestmode: engine, logtoClient, logto: f.logto };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ guestmode: {} }, /options\.guestmode/],
    [{ logtoClient: {} }, /options\.logtoClient/],
    [{ logto: { ...f.logto, baseUrl: 'nope' } }, /options\.logto\.baseUrl/],
    [{ resource: 'https://other.example' }, /options\.resource/],
    [{ confirm: 'always' }, /options\.confirm/],
    [{ confirmPath: '//evil.example' }, /options\.confirmPath/],
    [{ cookieName: '__Host-x' }, /options\.cookieName/],
    [{ secret: 'short' }, /options\.secret/],
    [{ onMerge: 'x' }, /options\.onMerge/],
  ];
  for (const [override, message] of cases) {
    assert.throws(
      () => createGuestmodeNext({ ...ok, ...override } as never),
      (error: unknown) => error instanceof TypeError && message.test(error.message),
      String(message),
    );
  }
  await engine.close();
});
