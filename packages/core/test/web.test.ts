import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createGuestmode, type Guestmode, type GuestStorage } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import {
  checkCookieName,
  clearedGuestCookie,
  guestCookie,
  isPageNavigation,
  readCookie,
  renderConfirmPage,
  renderSignOutPage,
  requestSite,
  serializeCookie,
} from '@guestmode/core/web';
import { createGuestAccessor, openGuest } from '../src/web/guest.js';
import {
  applyMergeDecision,
  checkMergeDecision,
  checkMergeOptions,
  completeSignIn,
  notifyMerge,
  previewPendingMerge,
  signInGuestId,
} from '../src/web/sign-in.js';

let storage: GuestStorage;
let engine: Guestmode;
let users = 0;
const newUser = () => `user-${++users}`;

before(async () => {
  storage = await openSqliteStorage({ database: ':memory:' });
  engine = createGuestmode({ storage, mergeRules: { cart: 'sum-by-key', theme: 'user-wins' } });
});
after(() => storage.close());

async function guestWith(attributes: Record<string, unknown>) {
  const { guest, token } = await engine.createGuest(attributes);
  return { id: guest.id, token };
}

describe('guest cookies as data', () => {
  it('names, attributes and serialisation', () => {
    const expires = new Date(Date.UTC(2030, 0, 1));
    const plain = guestCookie('guestmode', 'gm_a.b', { secure: false, expires });
    assert.deepEqual(plain, {
      name: 'guestmode',
      value: 'gm_a.b',
      attributes: { httpOnly: true, sameSite: 'lax', secure: false, path: '/', expires },
    });
    assert.equal(
      serializeCookie(plain),
      'guestmode=gm_a.b; Path=/; HttpOnly; SameSite=Lax; Expires=Tue, 01 Jan 2030 00:00:00 GMT',
    );
    const cleared = clearedGuestCookie('guestmode', { secure: true });
    assert.equal(cleared.name, '__Host-guestmode');
    assert.equal(
      serializeCookie(cleared),
      '__Host-guestmode=; Path=/; HttpOnly; SameSite=Lax; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure',
    );
  });

  it('checks configured names and reads a Cookie header', () => {
    assert.equal(checkCookieName('gm', 'options.cookieName'), 'gm');
    for (const bad of ['__Host-gm', 'a b', '', 42]) {
      assert.throws(() => checkCookieName(bad, 'options.cookieName'), /options\.cookieName/);
    }
    assert.equal(readCookie('a=1; guestmode=gm_x.y; guestmode=other', 'guestmode'), 'gm_x.y');
    assert.equal(readCookie('guestmode="a%20b"', 'guestmode'), 'a b');
    assert.equal(readCookie(undefined, 'guestmode'), undefined);
  });
});

describe('the guest accessor', () => {
  it('creates the guest on the first write and reports the cookie to set', async () => {
    const created: { token: string; expires: Date }[] = [];
    const guest = createGuestAccessor({
      engine,
      userId: undefined,
      site: 'same-origin',
      onCreate: (token, expires) => created.push({ token, expires }),
    });
    assert.equal(guest.kind, 'none');
    assert.deepEqual(await guest.all(), {});
    assert.equal(await guest.delete('cart'), false);
    await Promise.all([guest.set('theme', 'dark'), guest.set('lang', 'ja')]);
    assert.equal(created.length, 1, 'concurrent first writes create one guest');
    assert.equal(guest.kind, 'guest');
    assert.deepEqual(await guest.all(), { theme: 'dark', lang: 'ja' });

    const opened = await openGuest(engine, { guestToken: created[0]!.token, userId: undefined });
    assert.equal(opened.guestId, guest.id);
    assert.deepEqual(opened.attributes, { theme: 'dark', lang: 'ja' });
    assert.equal(opened.cookie, undefined);
    const again = createGuestAccessor({
      engine,
      userId: undefined,
      ...opened,
      site: 'same-origin',
      onCreate() {},
    });
    assert.equal(await again.delete('lang'), true);
    assert.deepEqual(await again.profile(), {
      kind: 'guest',
      id: guest.id,
      userId: null,
      attributes: { theme: 'dark' },
    });
  });

  it('switches to the user and says to clear a bad credential', async () => {
    const userId = newUser();
    const user = createGuestAccessor({
      engine,
      userId,
      site: 'cross-site',
      onCreate: () => assert.fail(),
    });
    await user.set('theme', 'light');
    assert.equal(user.kind, 'user');
    assert.deepEqual(user.principal, { kind: 'user', id: userId });
    assert.deepEqual(await engine.getAttributes({ kind: 'user', id: userId }), { theme: 'light' });

    const forged = await openGuest(engine, { guestToken: 'gm_nope.nope', userId: undefined });
    assert.deepEqual(forged.cookie, { action: 'clear' });
    const { token } = await guestWith({ a: 1 });
    const signedIn = await openGuest(engine, { guestToken: token, userId });
    assert.equal(signedIn.guestId, undefined, "a signed-in user's guest is left alone");
    assert.equal(signedIn.cookie, undefined);
  });
});

describe('the sign-in merge flow', () => {
  it('merges the guest the sign-in started with', async () => {
    const { id, token } = await guestWith({ cart: [{ id: 'b', quantity: 1 }] });
    const userId = newUser();
    assert.equal(signInGuestId(token), id);
    assert.equal(signInGuestId(undefined), null);
    const outcome = await completeSignIn({
      engine,
      guestToken: token,
      userId,
      started: { guestId: signInGuestId(token), sameOrigin: true },
      confirm: 'never',
    });
    assert.equal(outcome.action, 'merged');
    assert.equal(outcome.clearCookie, true);
    assert.deepEqual(await engine.getAttributes({ kind: 'user', id: userId }), {
      cart: [{ id: 'b', quantity: 1 }],
    });
    // The callback again (a reload): the guest is merged, nothing to do but drop the cookie.
    const replay = await completeSignIn({
      engine,
      guestToken: token,
      userId,
      started: { guestId: id, sameOrigin: true },
      confirm: 'never',
    });
    assert.ok(replay.action === 'merged' || replay.action === 'nothing');
    assert.equal(replay.clearCookie, true);
  });

  it('does nothing without a guest, and drops a malformed or dead one', async () => {
    const userId = newUser();
    const base = { engine, userId, started: undefined, confirm: 'never' } as const;
    assert.deepEqual(await completeSignIn({ ...base, guestToken: undefined }), {
      action: 'nothing',
      clearCookie: false,
    });
    assert.deepEqual(await completeSignIn({ ...base, guestToken: 'not-a-credential' }), {
      action: 'nothing',
      clearCookie: true,
    });
    const { token } = await guestWith({ a: 1 });
    await engine.merge({ guestToken: token, userId: newUser() });
    assert.deepEqual(await completeSignIn({ ...base, guestToken: token }), {
      action: 'nothing',
      clearCookie: true,
    });
  });

  it('asks before merging a guest that did not start the sign-in', async () => {
    const { id, token } = await guestWith({ cart: [{ id: 'planted', quantity: 9 }] });
    const userId = newUser();
    const outcome = await completeSignIn({
      engine,
      guestToken: token,
      userId,
      started: { guestId: null, sameOrigin: true },
      confirm: 'never',
      now: 1_000,
    });
    assert.equal(outcome.action, 'confirm');
    if (outcome.action !== 'confirm') return;
    assert.equal(outcome.pending.reason, 'unbound');
    assert.equal(outcome.pending.guestId, id);
    assert.equal(outcome.pending.userId, userId);
    assert.equal(outcome.pending.expiresAt, 1_000 + 15 * 60_000);
    assert.deepEqual(await engine.getAttributes({ kind: 'user', id: userId }), {});

    // An empty guest cannot plant anything: merged without asking.
    const empty = await guestWith({});
    const quiet = await completeSignIn({
      engine,
      guestToken: empty.token,
      userId,
      started: undefined,
      confirm: 'never',
    });
    assert.equal(quiet.action, 'merged');
  });

  it('asks on conflicts with confirm: on-conflict, then carries out the decision', async () => {
    const userId = newUser();
    await engine.setAttribute({ kind: 'user', id: userId }, 'theme', 'light');
    const { id, token } = await guestWith({ theme: 'dark' });
    const never = await completeSignIn({
      engine,
      guestToken: token,
      userId,
      started: { guestId: id, sameOrigin: true },
      confirm: 'on-conflict',
    });
    assert.equal(never.action, 'confirm');
    if (never.action !== 'confirm') return;
    const pending = never.pending;
    assert.equal(pending.reason, 'conflict');

    const preview = await previewPendingMerge({ engine, pending, guestToken: token });
    assert.deepEqual(preview?.before.guest, { theme: 'dark' });
    assert.equal(await previewPendingMerge({ engine, pending, guestToken: undefined }), undefined);
    const page = renderConfirmPage({
      reason: pending.reason,
      preview: preview!,
      action: '/m',
      csrfToken: '<x>',
    });
    assert.match(page, /already has some of this data/);
    assert.match(page, /value="&lt;x&gt;"/);

    assert.throws(() => checkMergeDecision(pending, { csrf: 'wrong', decision: 'merge' }), {
      code: 'csrf_failed',
      status: 403,
    });
    assert.throws(() => checkMergeDecision(pending, { csrf: pending.csrf, decision: 'x' }), {
      code: 'invalid_request',
    });
    assert.equal(checkMergeDecision(pending, { csrf: pending.csrf, decision: 'merge' }), 'merge');

    const other = await guestWith({ theme: 'x' });
    assert.deepEqual(
      await applyMergeDecision({ engine, pending, guestToken: other.token, decision: 'merge' }),
      { action: 'nothing', clearCookie: false },
      'a cookie that no longer names the pending guest is not merged',
    );
    const merged = await applyMergeDecision({
      engine,
      pending,
      guestToken: token,
      decision: 'merge',
    });
    assert.equal(merged.action, 'merged');
    assert.deepEqual(await engine.getAttributes({ kind: 'user', id: userId }), { theme: 'light' });
  });

  it('discard deletes the guest and leaves the account as it was', async () => {
    const userId = newUser();
    const { id, token } = await guestWith({ cart: [{ id: 'x', quantity: 1 }] });
    const outcome = await applyMergeDecision({
      engine,
      pending: { guestId: id, userId },
      guestToken: token,
      decision: 'discard',
    });
    assert.deepEqual(outcome, { action: 'discarded', clearCookie: true });
    assert.equal(await engine.validateGuest(token), null);
    assert.deepEqual(await engine.getAttributes({ kind: 'user', id: userId }), {});
  });

  it('ignores a throwing onMerge hook', async () => {
    const seen: number[] = [];
    await notifyMerge((n: number) => {
      seen.push(n);
      throw new Error('metrics down');
    }, 1);
    await notifyMerge(undefined, 2);
    assert.deepEqual(seen, [1]);
  });
});

describe('shared merge options', () => {
  it('defaults and refusals name the option', () => {
    assert.deepEqual(checkMergeOptions({ resources: ['https://api'] }), {
      resource: 'https://api',
      confirm: 'never',
    });
    assert.throws(() => checkMergeOptions({ resources: [] }), /options\.resource/);
    assert.throws(
      () => checkMergeOptions({ resource: 'https://other', resources: ['https://api'] }),
      /options\.resource/,
    );
    assert.throws(
      () => checkMergeOptions({ resources: ['https://api'], confirm: 'always' }),
      /options\.confirm/,
    );
  });
});

describe('which site a request comes from', () => {
  const app = 'https://shop.example';
  const request = (method: string, headers: Record<string, string>) => ({
    method,
    header: (name: string) => headers[name],
  });

  it('trusts Sec-Fetch-Site first, then Origin, and lets cookie-less clients through', () => {
    const cases: [string, Record<string, string>, 'same-origin' | 'cross-site'][] = [
      ['POST', { 'sec-fetch-site': 'same-origin', cookie: 'a=1' }, 'same-origin'],
      ['POST', { 'sec-fetch-site': 'same-site', origin: app }, 'cross-site'],
      ['POST', { 'sec-fetch-site': 'cross-site' }, 'cross-site'],
      ['GET', { 'sec-fetch-site': 'none', cookie: 'a=1' }, 'same-origin'],
      ['POST', { 'sec-fetch-site': 'none', cookie: 'a=1' }, 'cross-site'],
      ['POST', { origin: app, cookie: 'a=1' }, 'same-origin'],
      ['POST', { origin: 'null', cookie: 'a=1' }, 'cross-site'],
      ['POST', { origin: 'null' }, 'cross-site'],
      ['POST', { origin: 'https://evil.example' }, 'cross-site'],
      ['POST', { cookie: 'a=1' }, 'cross-site'],
      ['POST', {}, 'same-origin'],
    ];
    for (const [method, headers, expected] of cases) {
      assert.equal(requestSite(request(method, headers), app), expected, JSON.stringify(headers));
    }
  });

  it('a page navigation is a GET for HTML that no script made', () => {
    const html = 'text/html,application/xhtml+xml,*/*;q=0.8';
    const cases: [string, Record<string, string>, boolean][] = [
      ['GET', { accept: html, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }, true],
      ['GET', { accept: html }, true],
      ['HEAD', { accept: html }, true],
      ['POST', { accept: html, 'sec-fetch-mode': 'navigate' }, false],
      ['GET', { accept: 'application/json' }, false],
      ['GET', { accept: '*/*' }, false],
      ['GET', { accept: html, 'sec-fetch-mode': 'cors' }, false],
      ['GET', { accept: html, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' }, false],
      ['GET', { accept: html, 'x-requested-with': 'XMLHttpRequest' }, false],
    ];
    for (const [method, headers, expected] of cases) {
      assert.equal(isPageNavigation(request(method, headers)), expected, JSON.stringify(headers));
    }
  });

  it('a cross-site request cannot create a guest, but can use the account', async () => {
    const created: string[] = [];
    const guest = createGuestAccessor({
      engine,
      userId: undefined,
      site: 'cross-site',
      onCreate: (token) => created.push(token),
    });
    await assert.rejects(guest.set('cart', []), { code: 'cross_site_request', status: 403 });
    assert.deepEqual(created, []);
    const userId = newUser();
    const user = createGuestAccessor({ engine, userId, site: 'cross-site', onCreate() {} });
    await user.set('theme', 'dark');
    assert.deepEqual(await engine.getAttributes({ kind: 'user', id: userId }), { theme: 'dark' });
  });

  it('a sign-in started from another site asks before merging, even its own guest', async () => {
    const { id, token } = await guestWith({ cart: [{ id: 'c', quantity: 1 }] });
    const userId = newUser();
    const outcome = await completeSignIn({
      engine,
      guestToken: token,
      userId,
      started: { guestId: id, sameOrigin: false },
      confirm: 'never',
    });
    assert.equal(outcome.action, 'confirm');
    assert.equal(outcome.action === 'confirm' && outcome.pending.reason, 'cross_site');
    assert.deepEqual(await engine.getAttributes({ kind: 'user', id: userId }), {});
  });

  it('the sign-out page posts the token back and escapes it', () => {
    const page = renderSignOutPage({ action: '/logto/sign-out', csrfToken: '"><x' });
    assert.match(page, /<form method="post" action="\/logto\/sign-out">/);
    assert.match(page, /name="csrf" value="&quot;&gt;&lt;x"/);
  });
});
