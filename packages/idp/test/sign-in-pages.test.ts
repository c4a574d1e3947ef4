import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Idp } from '../src/index.js';
import { Browser, parseForm, startIdp } from './helpers.js';

const APP = 'http://app.test.local';
let idp: Idp;
let appId: string;

before(async () => {
  idp = await startIdp();
  ({ appId } = await idp.createApplication({ name: 'Bookstore', redirectUris: [`${APP}/cb`] }));
  await idp.createUser({ username: 'alice', password: 'correct horse battery' });
});
after(() => idp?.close());

/** Starts an authorization request as an SDK would and lands on the sign-in page. */
async function open(browser: Browser, extra: Record<string, string> = {}) {
  const params = new URLSearchParams({
    client_id: appId,
    redirect_uri: `${APP}/cb`,
    response_type: 'code',
    scope: 'openid offline_access profile',
    prompt: 'consent',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    state: 'xyz',
    ...extra,
  });
  const { res, url } = await browser.follow(`${idp.issuer}/auth?${params}`, { stopAt: APP });
  return { res, url, html: await res.text() };
}

test('the sign-in page has the accessible names other programs rely on, and safe headers', async () => {
  const { res, url, html } = await open(new Browser());
  assert.equal(res.status, 200);
  assert.match(url, /\/interaction\/[\w-]+$/);
  assert.match(html, /<label for="username">Username<\/label>/);
  assert.match(html, /<label for="password">Password<\/label>/);
  assert.match(html, /<button type="submit">Sign in<\/button>/);
  assert.match(html, /Sign in to Bookstore/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.doesNotMatch(res.headers.get('content-security-policy') ?? '', /unsafe-inline/);
});

test('Japanese by Accept-Language, English by ?lang=en', async () => {
  const browser = new Browser({ 'accept-language': 'ja-JP,ja;q=0.9,en;q=0.5' });
  const { url, html } = await open(browser);
  assert.match(html, /<html lang="ja">/);
  assert.match(html, /サインイン/);
  assert.match(html, /\?lang=en"/);
  const english = await (
    await browser.fetch(`${url}?lang=en`, { headers: { 'accept-language': 'ja' } })
  ).text();
  assert.match(english, /<html lang="en">/);
  assert.match(english, /<button type="submit">Sign in<\/button>/);
});

test('first_screen=register (the SDK sign-up route) opens the sign-up page', async () => {
  const { html } = await open(new Browser(), { first_screen: 'register' });
  assert.match(html, /<button type="submit">Create account<\/button>/);
});

test('wrong password: error in the page, username kept, no session, no redirect', async () => {
  const browser = new Browser();
  const { url, html } = await open(browser);
  const form = parseForm(html, '/sign-in');
  const { res, url: after } = await browser.submit(
    new URL(form.action, url).href,
    {
      ...form.fields,
      username: 'alice',
      password: 'wrong password',
    },
    {},
    APP,
  );
  assert.equal(res.status, 400);
  assert.ok(after.endsWith('/sign-in'));
  const page = await res.text();
  assert.match(page, /role="alert">The username or password is incorrect\./);
  assert.match(page, /value="alice"/);
  assert.equal(browser.hasCookie(new URL(idp.url).host, 'gm_idp_session'), false);

  const unknown = await browser.submit(new URL(form.action, url).href, {
    ...form.fields,
    username: 'nobody',
    password: 'whatever123',
  });
  assert.match(await unknown.res.text(), /The username or password is incorrect\./);
  const empty = await browser.submit(new URL(form.action, url).href, {
    ...form.fields,
    username: '',
    password: '',
  });
  assert.match(await empty.res.text(), /Enter a username\./);
});

test('the correct password finishes the interaction with a code for the app', async () => {
  const browser = new Browser();
  const { url, html } = await open(browser);
  const form = parseForm(html, '/sign-in');
  const { url: landed } = await browser.submit(
    new URL(form.action, url).href,
    {
      ...form.fields,
      username: 'ALICE',
      password: 'correct horse battery',
    },
    {},
    APP,
  );
  const callback = new URL(landed);
  assert.equal(callback.origin + callback.pathname, `${APP}/cb`);
  assert.ok(callback.searchParams.get('code'));
  assert.equal(callback.searchParams.get('state'), 'xyz');
});

test('missing or foreign CSRF token is refused with 403', async () => {
  const browser = new Browser();
  const { url, html } = await open(browser);
  const form = parseForm(html, '/sign-in');
  const action = new URL(form.action, url).href;
  const missing = await browser.fetch(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'alice', password: 'correct horse battery' }).toString(),
  });
  assert.equal(missing.status, 403);
  // A token from another interaction does not fit this one.
  const other = await open(new Browser());
  const otherToken = parseForm(other.html, '/sign-in').fields.csrf!;
  const foreign = await browser.submit(action, {
    csrf: otherToken,
    username: 'alice',
    password: 'correct horse battery',
  });
  assert.equal(foreign.res.status, 403);
});

test('a form post without the interaction cookie shows the expired page', async () => {
  const { url, html } = await open(new Browser());
  const form = parseForm(html, '/sign-in');
  const { res } = await new Browser().submit(new URL(form.action, url).href, {
    ...form.fields,
    username: 'alice',
    password: 'correct horse battery',
  });
  assert.equal(res.status, 400);
  assert.match(await res.text(), /expired/);
});

test('sign-up validates input and refuses a taken username', async () => {
  const browser = new Browser();
  const { url } = await open(browser);
  const signUp = await browser.fetch(`${url}/sign-up`);
  const form = parseForm(await signUp.text(), '/sign-up');
  const action = new URL(form.action, url).href;
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ username: 'alice', password: 'long enough pw' }, /already taken/],
    [{ username: 'x', password: 'long enough pw' }, /Use 3 to 64 characters/],
    [{ username: 'carol', password: 'short' }, /at least 8 characters/],
  ];
  for (const [fields, message] of cases) {
    const { res } = await browser.submit(action, { ...form.fields, ...fields });
    assert.equal(res.status, 400);
    const page = await res.text();
    assert.match(page, message);
    assert.match(page, new RegExp(`value="${fields.username}"`));
  }
  assert.equal(await idp.store.findUserByUsername('carol'), undefined);
});

test('an unknown client gets the error page, not a sign-in page', async () => {
  const res = await fetch(
    `${idp.issuer}/auth?client_id=nope&redirect_uri=${encodeURIComponent(`${APP}/cb`)}&response_type=code&scope=openid`,
    { redirect: 'manual' },
  );
  assert.equal(res.status, 400);
  assert.match(await res.text(), /invalid_client/);
});

test('PKCE is required', async () => {
  const params = new URLSearchParams({
    client_id: appId,
    redirect_uri: `${APP}/cb`,
    response_type: 'code',
    scope: 'openid',
  });
  const res = await fetch(`${idp.issuer}/auth?${params}`, { redirect: 'manual' });
  const location = new URL(res.headers.get('location') ?? '', idp.url);
  assert.equal(location.searchParams.get('error'), 'invalid_request');
  assert.match(location.searchParams.get('error_description') ?? '', /PKCE/);
});
