// The guest of App Router requests: the guest API route handler, a Server Action's write, and
// what a Server Component reads.
// Next's server sets up its environment (AsyncLocalStorage for the request store) first.
import 'next/dist/server/node-environment-baseline.js';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { assertNodeServer } from '../../src/app/guard.js';
import { createGuestmodeApp } from '../../src/app/index.js';
import { Browser, me, put, SAME_ORIGIN } from '../helpers.js';
import { type AppFixture, startAppFixture } from './helpers.js';

let f: AppFixture;

before(async () => {
  f = await startAppFixture();
});

after(async () => {
  await f?.close();
});

const codeOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string } }).error.code;

/** A Server Action's write (`getGuest().set(...)`), from the app's own page unless `headers` say otherwise. */
function action(
  browser: Browser,
  name: string,
  value: unknown,
  headers: Record<string, string> = SAME_ORIGIN,
) {
  return browser.fetch(`${f.url}/api/action`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ name, value }),
  });
}

test('no guest until the first write; the guest API creates it with an HttpOnly Lax cookie, personal answers', async () => {
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
  assert.match(cookie.raw, /HttpOnly/i);
  assert.match(cookie.raw, /SameSite=Lax/i);
  assert.match(cookie.raw, /Path=\//);
  assert.doesNotMatch(cookie.raw, /Secure|Domain/i);

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
});

test("a Server Action's first write creates the guest; later writes reuse it", async () => {
  const browser = new Browser();
  const res = await action(browser, 'cart', [{ id: 'kokoro', quantity: 1 }]);
  assert.equal(res.status, 200);
  const token = browser.get(f.url, 'guestmode')?.value;
  assert.match(token ?? '', /^gm_/);
  assert.equal((await action(browser, 'theme', 'dark')).status, 200);
  assert.equal(browser.get(f.url, 'guestmode')?.value, token);
  const seen = await me(browser, f.url);
  assert.deepEqual(seen.attributes, { cart: [{ id: 'kokoro', quantity: 1 }], theme: 'dark' });
});

test('an action from another site neither creates a guest nor writes to an existing one', async () => {
  const stranger = new Browser();
  const created = await action(stranger, 'cart', [], { 'sec-fetch-site': 'cross-site' });
  assert.equal(created.status, 403);
  assert.equal(await codeOf(created), 'cross_site_request');
  assert.equal(stranger.get(f.url, 'guestmode'), undefined);

  const victim = new Browser();
  await action(victim, 'theme', 'light');
  const forged = await action(victim, 'theme', 'dark', { origin: 'https://evil.example' });
  assert.equal(forged.status, 403);
  assert.equal((await me(victim, f.url)).attributes.theme, 'light');
});

test('a Server Component reads the guest but writes nothing: no cookie, writes refused', async () => {
  const browser = new Browser();
  const empty = await browser.fetch(`${f.url}/api/rsc?write=1`);
  const body = (await empty.json()) as {
    profile: { kind: string };
    write: string;
    pending: unknown;
  };
  assert.equal(body.profile.kind, 'none');
  assert.equal(body.write, 'TypeError', 'a Server Component cannot create a guest');
  assert.equal(body.pending, null);
  assert.deepEqual(empty.headers.getSetCookie(), []);

  await put(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
  const read = (await (await browser.fetch(`${f.url}/api/rsc`)).json()) as {
    profile: { kind: string; attributes: unknown };
  };
  assert.equal(read.profile.kind, 'guest');
  assert.deepEqual(read.profile.attributes, { cart: [{ id: 'b1', quantity: 1 }] });

  // A dead credential is not deleted from a Server Component (it cannot); the next action does.
  await f.engine.merge({ guestToken: browser.get(f.url, 'guestmode')!.value, userId: 'someone' });
  const dead = await browser.fetch(`${f.url}/api/rsc`);
  assert.equal(((await dead.json()) as { profile: { kind: string } }).profile.kind, 'none');
  assert.deepEqual(dead.headers.getSetCookie(), []);
  assert.equal((await me(browser, f.url)).kind, 'none');
  assert.equal(browser.get(f.url, 'guestmode'), undefined);
});

test('a forged guest cookie is deleted and the visitor starts fresh', async () => {
  const browser = new Browser();
  await put(browser, f.url, 'theme', 'light');
  const token = browser.get(f.url, 'guestmode')!.value;
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
  assert.equal(await codeOf(form), 'invalid_request');

  const crossSite = await browser.fetch(`${f.url}/api/guestmode/attributes/theme`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
    body: '"dark"',
  });
  assert.equal(crossSite.status, 403);
  assert.equal(await codeOf(crossSite), 'cross_site_request');

  const wrongMethod = await browser.fetch(`${f.url}/api/guestmode/profile`, { method: 'POST' });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'GET,DELETE');
  assert.equal((await browser.fetch(`${f.url}/api/guestmode/nope`)).status, 404);

  const badName = await put(browser, f.url, 'no spaces', 1);
  assert.equal(badName.status, 400);
  assert.equal(await codeOf(badName), 'invalid_attribute_name');
  const tooBig = await put(browser, f.url, 'big', 'x'.repeat(70 * 1024));
  assert.equal(tooBig.status, 413);
  const hugeBody = await put(browser, f.url, 'big', 'x'.repeat(2 * 1024 * 1024));
  assert.equal(hugeBody.status, 400);
  assert.equal(await codeOf(hugeBody), 'invalid_request');
  assert.equal(browser.get(f.url, 'guestmode'), undefined, 'refused writes create no guest');
});

test('options are checked once, naming the option', async () => {
  const engine = createGuestmode({ storage: await openSqliteStorage({ database: ':memory:' }) });
  const ok = { guestmode: engine, logto: f.logto };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ guestmode: {} }, /options\.guestmode/],
    [{ logto: { ...f.logto, baseUrl: 'nope' } }, /options\.logto\.baseUrl/],
    [{ resource: 'https://other.example' }, /options\.resource/],
    [{ confirm: 'always' }, /options\.confirm/],
    [{ confirmPath: '//evil.example' }, /options\.confirmPath/],
    [{ authPath: 'api/logto' }, /options\.authPath/],
    [{ cookieName: '__Host-x' }, /options\.cookieName/],
    [{ secret: 'short' }, /options\.secret/],
    [{ onMerge: 'x' }, /options\.onMerge/],
    [{ logtoClient: {} }, /options\.logtoClient: unknown option/],
  ];
  for (const [override, message] of cases) {
    assert.throws(
      () => createGuestmodeApp({ ...ok, ...override } as never),
      (error: unknown) => error instanceof TypeError && message.test(error.message),
      String(message),
    );
  }
  await engine.close();
});

test('the Edge runtime and browser bundles are refused with a clear error', () => {
  const before = process.env.NEXT_RUNTIME;
  process.env.NEXT_RUNTIME = 'edge';
  try {
    assert.throws(() => assertNodeServer(), /needs the Node\.js runtime/);
  } finally {
    if (before === undefined) delete process.env.NEXT_RUNTIME;
    else process.env.NEXT_RUNTIME = before;
  }
  const scope = globalThis as { window?: unknown; document?: unknown };
  scope.window = {};
  scope.document = {};
  try {
    assert.throws(() => assertNodeServer(), /server-only/);
  } finally {
    delete scope.window;
    delete scope.document;
  }
  assert.doesNotThrow(() => assertNodeServer());
});
