// The sign-in, callback and sign-out through @logto/next's real handleAuthRoutes and the local
// provider over HTTP, wrapped by handleAuthRoutes of this package.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MergeEvent } from '../src/index.js';
import {
  Browser,
  endProviderSession,
  type Fixture,
  finishSignIn,
  me,
  parseForm,
  postSignOut,
  put,
  SAME_ORIGIN,
  signIn,
  signOutForm,
  startFixture,
  startSignIn,
} from './helpers.js';

describe('automatic merge at /api/logto/sign-in-callback', () => {
  let f: Fixture;
  const events: MergeEvent[] = [];
  before(async () => {
    f = await startFixture({ onMerge: (event) => void events.push(event) });
  });
  after(async () => {
    await f?.close();
  });

  test("the callback merges the browser's guest, keeps @logto/next's session cookie, and deletes the guest cookie", async () => {
    const browser = new Browser();
    await put(browser, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
    const token = browser.get(f.url, 'guestmode')!.value;

    const start = await startSignIn(browser, f.url);
    const signInRecord = browser.get(f.url, 'guestmode-signin');
    assert.ok(signInRecord, 'the sign-in start is recorded');
    assert.match(signInRecord.raw, /HttpOnly; SameSite=Lax/);
    assert.ok(browser.get(f.url, `logto_${f.logto.appId}`), "@logto/next's cookie survives ours");

    // Walk to the callback by hand to see its Set-Cookie headers.
    const form = parseForm(await start.res.text(), '/sign-in');
    let res = await browser.fetch(new URL(form.action, start.url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...form.fields,
        username: 'alice',
        password: 'alice password 1',
      }),
    });
    let at = new URL(form.action, start.url).href;
    for (let hops = 0; hops < 10 && !new URL(at).pathname.endsWith('/sign-in-callback'); hops++) {
      at = new URL(res.headers.get('location')!, at).href;
      res = await browser.fetch(at);
    }
    assert.equal(new URL(at).pathname, '/api/logto/sign-in-callback');
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), f.url);
    const names = res.headers.getSetCookie().map((c) => c.slice(0, c.indexOf('=')));
    assert.ok(names.includes(`logto_${f.logto.appId}`), `Logto session written: ${names}`);
    assert.ok(names.includes('guestmode'), 'guest cookie deleted in the same response');
    assert.ok(names.includes('guestmode-signin'), 'start record cleared');
    assert.equal(browser.get(f.url, 'guestmode'), undefined);

    const seen = await me(browser, f.url);
    assert.equal(seen.kind, 'user');
    assert.equal(seen.userId, f.users.alice);
    assert.deepEqual(seen.attributes, { cart: [{ id: 'b1', quantity: 1 }] });
    // @logto/next's own /api/logto/user still answers through the wrapper.
    const user = (await (await browser.fetch(`${f.url}/api/logto/user`)).json()) as {
      isAuthenticated: boolean;
      claims: { sub: string };
    };
    assert.equal(user.isAuthenticated, true);
    assert.equal(user.claims.sub, f.users.alice);
    // The merged credential is used up.
    assert.equal(await f.engine.validateGuest(token), null);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.via, 'callback');
    assert.equal(events[0]!.result.userId, f.users.alice);
  });

  test('signed in, the guest API writes to the account; a second browser merges into it (carts add up)', async () => {
    const first = new Browser();
    await signIn(first, f.url, 'bob', 'bob password 12');
    await put(first, f.url, 'cart', [{ id: 'b1', quantity: 2 }]);
    assert.equal(first.get(f.url, 'guestmode'), undefined, 'no guest cookie for a user');

    const second = new Browser();
    await put(second, f.url, 'cart', [
      { id: 'b1', quantity: 1 },
      { id: 'b2', quantity: 1 },
    ]);
    const { url } = await signIn(second, f.url, 'bob', 'bob password 12');
    assert.equal(url, `${f.url}/`);
    assert.deepEqual((await me(second, f.url)).attributes.cart, [
      { id: 'b1', quantity: 3 },
      { id: 'b2', quantity: 1 },
    ]);
  });

  test('sign-out deletes the guest cookie and the Logto session; the next visitor is a fresh guest', async () => {
    const browser = new Browser();
    await signIn(browser, f.url, 'alice', 'alice password 1');
    // A guest cookie a user can still hold: one planted, or a merge awaiting a decision.
    browser.plant(f.url, 'guestmode', 'gm_leftover.x');
    const out = await postSignOut(browser, f.url, (await signOutForm(browser, f.url)).fields);
    assert.equal(out.status, 303, 'the provider is reached with a GET');
    assert.match(out.headers.get('location')!, /\/oidc\/session\/end\?/);
    const names = out.headers.getSetCookie().map((c) => c.slice(0, c.indexOf('=')));
    assert.ok(names.includes('guestmode') && names.includes(`logto_${f.logto.appId}`), `${names}`);
    assert.equal(browser.get(f.url, 'guestmode'), undefined);
    await endProviderSession(browser, out.headers.get('location')!).catch(() => {});
    const seen = await me(browser, f.url);
    assert.deepEqual(
      { kind: seen.kind, userId: seen.userId, attributes: seen.attributes },
      { kind: 'none', userId: null, attributes: {} },
    );
  });
});

describe('planted guest cookies', () => {
  let f: Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(async () => {
    await f?.close();
  });

  async function attackerGuest() {
    const attacker = new Browser();
    await put(attacker, f.url, 'cart', [{ id: 'evil', quantity: 9 }]);
    return attacker;
  }

  test('a cookie planted during the sign-in is not merged; the victim is asked; discard deletes it', async () => {
    const planted = (await attackerGuest()).get(f.url, 'guestmode')!.value;
    const victim = new Browser();
    await put(victim, f.url, 'cart', [{ id: 'mine', quantity: 1 }]);
    const start = await startSignIn(victim, f.url);
    victim.plant(f.url, 'guestmode', planted);
    const { res, url } = await finishSignIn(victim, start, 'alice', 'alice password 1');
    assert.equal(url, `${f.url}/api/guestmode/confirm`);
    const html = await res.text();
    assert.match(html, /not there when you started signing in/);
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {});

    const form = parseForm(html, '/api/guestmode/merge');
    for (const [fields, headers, code] of [
      [{ decision: 'merge' }, SAME_ORIGIN, 'csrf_failed'],
      [{ decision: 'merge', csrf: 'x'.repeat(32) }, SAME_ORIGIN, 'csrf_failed'],
      [
        { ...form.fields, decision: 'merge' },
        { origin: 'https://evil.example' },
        'cross_site_request',
      ],
      [{ ...form.fields, decision: 'merge' }, { origin: 'null' }, 'cross_site_request'],
    ] as const) {
      const refused = await victim.fetch(`${f.url}${form.action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      });
      assert.equal(refused.status, 403);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, code);
    }
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {});

    const { url: landed } = await victim.submit(
      `${f.url}${form.action}`,
      { ...form.fields, decision: 'discard' },
      SAME_ORIGIN,
    );
    assert.equal(landed, `${f.url}/`);
    assert.equal(victim.get(f.url, 'guestmode'), undefined, 'planted cookie deleted');
    assert.equal(victim.get(f.url, 'guestmode-pending'), undefined, 'decision used up');
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {});
    assert.equal(await f.engine.validateGuest(planted), null, 'the discarded guest is deleted');
    assert.equal(
      await f.engine.merge({ guestToken: planted, userId: f.users.alice }).catch((e) => e.code),
      'invalid_guest_credential',
    );
    assert.equal((await victim.fetch(`${f.url}/api/guestmode/confirm`)).status, 302);
  });

  test("the attacker's own sign-in record planted with his cookie does not bind: it names another sign-in", async () => {
    const attacker = await attackerGuest();
    await startSignIn(attacker, f.url);
    const record = attacker.get(f.url, 'guestmode-signin')!.value;
    const planted = attacker.get(f.url, 'guestmode')!.value;

    const victim = new Browser();
    const start = await startSignIn(victim, f.url);
    victim.plant(f.url, 'guestmode', planted);
    victim.plant(f.url, 'guestmode-signin', record);
    const { url } = await finishSignIn(victim, start, 'bob', 'bob password 12');
    assert.equal(url, `${f.url}/api/guestmode/confirm`);
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.bob }), {});
    // A forged record (wrong signature) does not bind either.
    const forged = new Browser();
    const start2 = await startSignIn(forged, f.url);
    forged.plant(f.url, 'guestmode', planted);
    forged.plant(f.url, 'guestmode-signin', `${record.slice(0, -3)}abc`);
    const second = await finishSignIn(forged, start2, 'bob', 'bob password 12');
    assert.equal(second.url, `${f.url}/api/guestmode/confirm`);
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.bob }), {});
  });

  test('an accepted unbound guest is merged; the pending decision is for this browser and user only', async () => {
    const planted = (await attackerGuest()).get(f.url, 'guestmode')!.value;
    const browser = new Browser();
    const start = await startSignIn(browser, f.url);
    browser.plant(f.url, 'guestmode', planted);
    const { res } = await finishSignIn(browser, start, 'bob', 'bob password 12');
    const form = parseForm(await res.text(), '/api/guestmode/merge');

    // Another browser holding the guest cookie and the form, but not the session: nothing.
    const stranger = new Browser();
    stranger.plant(f.url, 'guestmode', planted);
    const refused = await stranger.submit(
      `${f.url}${form.action}`,
      { ...form.fields, decision: 'merge' },
      SAME_ORIGIN,
    );
    assert.equal(refused.url, `${f.url}/`);
    assert.notEqual(await f.engine.validateGuest(planted), null);

    const { url: landed } = await browser.submit(
      `${f.url}${form.action}`,
      { ...form.fields, decision: 'merge' },
      { origin: f.url },
    );
    assert.equal(landed, `${f.url}/`);
    assert.deepEqual((await me(browser, f.url)).attributes.cart, [{ id: 'evil', quantity: 9 }]);
    assert.equal(await f.engine.validateGuest(planted), null, 'merged guest is used up');
  });
});

describe("confirm: 'on-conflict'", () => {
  let f: Fixture;
  before(async () => {
    f = await startFixture({ confirm: 'on-conflict' });
  });
  after(async () => {
    await f?.close();
  });

  test('no conflict merges in the callback; a conflict shows the preview and merges on request', async () => {
    const first = new Browser();
    await put(first, f.url, 'theme', 'dark');
    const signedIn = await signIn(first, f.url, 'alice', 'alice password 1');
    assert.equal(signedIn.url, `${f.url}/`);
    assert.equal((await me(first, f.url)).attributes.theme, 'dark');

    const second = new Browser();
    await put(second, f.url, 'theme', 'light');
    await put(second, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
    const { res, url } = await signIn(second, f.url, 'alice', 'alice password 1');
    assert.equal(url, `${f.url}/api/guestmode/confirm`);
    const html = await res.text();
    assert.match(html, /already has some of this data/);
    const form = parseForm(html, '/api/guestmode/merge');
    await second.submit(
      `${f.url}${form.action}`,
      { ...form.fields, decision: 'merge' },
      SAME_ORIGIN,
    );
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {
      theme: 'dark',
      cart: [{ id: 'b1', quantity: 1 }],
    });
    assert.equal(second.get(f.url, 'guestmode'), undefined);
  });
});
