import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Browser,
  type Fixture,
  finishSignIn,
  parseForm,
  profile,
  SAME_ORIGIN,
  setAttribute,
  signIn,
  startFixture,
  startSignIn,
} from './helpers.js';

describe('planted guest cookie', () => {
  let f: Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(async () => {
    await f?.close();
  });

  /** The attacker makes a guest of his own and takes its cookie value. */
  async function attackerGuest() {
    const attacker = new Browser();
    await setAttribute(attacker, f.url, 'cart', [{ id: 'evil', quantity: 9 }]);
    return attacker.get(f.url, 'guestmode')!.value;
  }

  test('a cookie planted during the sign-in is not merged; the victim is asked; discard keeps the account clean', async () => {
    const planted = await attackerGuest();
    const victim = new Browser();
    await setAttribute(victim, f.url, 'cart', [{ id: 'mine', quantity: 1 }]);
    const start = await startSignIn(victim, f.url);
    // While the victim is at the provider, the attacker overwrites the guest cookie (a sibling
    // subdomain over plain HTTP, or a man in the middle, can do this without __Host-).
    victim.plant(f.url, 'guestmode', planted);
    const { res, url } = await finishSignIn(victim, start, 'alice', 'alice password 1');
    assert.equal(url, `${f.url}/guestmode/confirm`);
    const html = await res.text();
    assert.match(html, /not there when you started signing in/);
    assert.deepEqual(
      await f.engine.getAttributes({ kind: 'user', id: f.users.alice }),
      {},
      'nothing merged before the user decides',
    );

    const form = parseForm(html, '/guestmode/merge');
    // Refused: no CSRF token, a wrong one, a cross-site request, an opaque origin.
    for (const [fields, headers, code] of [
      [{ decision: 'merge' }, SAME_ORIGIN, 'csrf_failed'],
      [{ decision: 'merge', csrf: 'x'.repeat(32) }, SAME_ORIGIN, 'csrf_failed'],
      [
        { ...form.fields, decision: 'merge' },
        { origin: 'https://evil.example' },
        'cross_site_request',
      ],
      [{ ...form.fields, decision: 'merge' }, { origin: 'null' }, 'cross_site_request'],
      [
        { ...form.fields, decision: 'merge' },
        { 'sec-fetch-site': 'same-site' },
        'cross_site_request',
      ],
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
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {});
    // The discarded guest is deleted, not merged anywhere.
    assert.equal(await f.engine.validateGuest(planted), null);
    assert.equal(
      await f.engine.merge({ guestToken: planted, userId: f.users.alice }).catch((e) => e.code),
      'invalid_guest_credential',
    );
    // The decision is used up: the confirm page now just goes home.
    const again = await victim.fetch(`${f.url}/guestmode/confirm`);
    assert.equal(again.status, 302);
  });

  test('a cookie that appears when the sign-in started without one is not merged silently', async () => {
    const planted = await attackerGuest();
    const victim = new Browser();
    const start = await startSignIn(victim, f.url);
    victim.plant(f.url, 'guestmode', planted);
    const { url } = await finishSignIn(victim, start, 'bob', 'bob password 12');
    assert.equal(url, `${f.url}/guestmode/confirm`);
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.bob }), {});
    assert.equal((await profile(victim, f.url)).kind, 'user');
  });

  test('an unbound guest the user accepts on the confirm page is merged and used up', async () => {
    const planted = await attackerGuest();
    const browser = new Browser();
    const start = await startSignIn(browser, f.url);
    browser.plant(f.url, 'guestmode', planted);
    const { res, url } = await finishSignIn(browser, start, 'bob', 'bob password 12');
    assert.equal(url, `${f.url}/guestmode/confirm`);
    const form = parseForm(await res.text(), '/guestmode/merge');
    const { url: landed } = await browser.submit(
      `${f.url}${form.action}`,
      { ...form.fields, decision: 'merge' },
      { origin: f.url },
    );
    assert.equal(landed, `${f.url}/`);
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.bob }), {
      cart: [{ id: 'evil', quantity: 9 }],
    });
    assert.equal(await f.engine.validateGuest(planted), null, 'merged guest is used up');
  });

  test('a guest that was already merged elsewhere is simply dropped at the callback', async () => {
    const browser = new Browser();
    await setAttribute(browser, f.url, 'theme', 'dark');
    const token = browser.get(f.url, 'guestmode')!.value;
    await f.engine.merge({ guestToken: token, userId: 'someone-else' });
    const { url } = await signIn(browser, f.url, 'alice', 'alice password 1');
    assert.equal(url, `${f.url}/`);
    assert.equal(browser.get(f.url, 'guestmode'), undefined);
    assert.equal(
      (await f.engine.getAttributes({ kind: 'user', id: f.users.alice })).theme,
      undefined,
    );
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

  test('no conflict: merged in the callback; conflict: the built-in page previews, then merges', async () => {
    const first = new Browser();
    await setAttribute(first, f.url, 'theme', 'dark');
    await setAttribute(first, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
    const signedIn = await signIn(first, f.url, 'alice', 'alice password 1');
    assert.equal(signedIn.url, `${f.url}/`);
    assert.equal(((await signedIn.res.json()) as { kind: string }).kind, 'user');

    const second = new Browser();
    await setAttribute(second, f.url, 'theme', 'light');
    await setAttribute(second, f.url, 'cart', [{ id: 'b1', quantity: 1 }]);
    const { res, url } = await signIn(second, f.url, 'alice', 'alice password 1');
    assert.equal(url, `${f.url}/guestmode/confirm`);
    const html = await res.text();
    assert.match(html, /already has some of this data/);
    assert.match(html, /cart, theme|theme, cart/);
    const form = parseForm(html, '/guestmode/merge');
    await second.submit(
      `${f.url}${form.action}`,
      { ...form.fields, decision: 'merge' },
      SAME_ORIGIN,
    );
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {
      theme: 'dark',
      cart: [{ id: 'b1', quantity: 2 }],
    });
    assert.equal(second.get(f.url, 'guestmode'), undefined);
  });

  test('a pending merge is for the user the callback verified only', async () => {
    const browser = new Browser();
    await setAttribute(browser, f.url, 'theme', 'blue');
    const { res, url } = await signIn(browser, f.url, 'alice', 'alice password 1');
    assert.equal(url, `${f.url}/guestmode/confirm`);
    const form = parseForm(await res.text(), '/guestmode/merge');
    // Another browser (no session) cannot use the form.
    const stranger = new Browser();
    stranger.cookies.set(
      `${new URL(f.url).host} guestmode`,
      browser.cookies.get(`${new URL(f.url).host} guestmode`)!,
    );
    const { url: landed } = await stranger.submit(
      `${f.url}${form.action}`,
      { ...form.fields, decision: 'merge' },
      SAME_ORIGIN,
    );
    assert.equal(landed, `${f.url}/`);
    assert.equal((await f.engine.getAttributes({ kind: 'user', id: f.users.alice })).theme, 'dark');
  });
});
