import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import LogtoClient from '@logto/node';
import { type Idp, MANAGEMENT_RESOURCE } from '../src/index.js';
import { type DevUpstream, startDevUpstream, TokenVault } from '../src/social/index.js';
import { Browser, parseForm, startIdp } from './helpers.js';

const APP = 'http://app.test.local';
let idp: Idp;
let upstream: DevUpstream;
let app: { appId: string; appSecret: string };
let admin: { appId: string; appSecret: string };

before(async () => {
  upstream = await startDevUpstream({ port: 0, log: () => {} });
  idp = await startIdp({ GUESTMODE_IDP_VAULT_KEY: TokenVault.generateKey() });
  app = await idp.createApplication({
    name: 'Bookstore',
    redirectUris: [`${APP}/callback`],
    postLogoutRedirectUris: [APP],
  });
  admin = await idp.createM2MApplication({ name: 'Admin' });
  const base = { factoryId: 'oauth2', syncProfile: 'on-every-sign-in', enabled: true } as const;
  await idp.addConnector({
    ...base,
    id: 'dev',
    target: 'dev-upstream',
    name: { en: 'Dev upstream', ja: '開発用プロバイダー' },
    logo: `data:image/svg+xml;base64,${Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>').toString('base64')}`,
    config: upstream.connectorConfig(),
    storeTokens: true,
  });
  await idp.addConnector({
    ...base,
    id: 'dev2',
    target: 'dev-upstream-2',
    name: { en: 'Second upstream' },
    config: upstream.connectorConfig(),
    syncProfile: 'on-sign-up',
    storeTokens: false,
  });
  await idp.createUser({ username: 'alice', password: 'correct horse battery' });
});

after(async () => {
  await idp?.close();
  await upstream?.close();
});

function sdk() {
  const items = new Map<string, string>();
  const navigations: string[] = [];
  const logto = new LogtoClient(
    { endpoint: idp.url, ...app },
    {
      storage: {
        getItem: async (key) => items.get(key) ?? null,
        setItem: async (key, value) => void items.set(key, value),
        removeItem: async (key) => void items.delete(key),
      },
      navigate: (url) => void navigations.push(url),
    },
  );
  return { logto, navigations };
}

/** Picks a demo user on the development upstream's page and follows back (stops at the app). */
async function upstreamPick(browser: Browser, res: Response, url: string, user: string) {
  assert.ok(
    url.startsWith(upstream.issuer.replace(/\/[^/]*$/, '')) ||
      url.includes(new URL(upstream.issuer).host),
    url,
  );
  const form = parseForm(await res.text(), '/login');
  return browser.submit(new URL(form.action, url).href, { ...form.fields, user }, {}, APP);
}

/** Signs in through a social button with the SDK; returns the signed-in client. */
async function socialSignIn(browser: Browser, connectorId: string, user: string) {
  const { logto, navigations } = sdk();
  await logto.signIn(`${APP}/callback`);
  const { res, url } = await browser.follow(navigations[0]!);
  const html = await res.text();
  const form = parseForm(html, `/social/${connectorId}`);
  const upstreamPage = await browser.submit(new URL(form.action, url).href, form.fields);
  const { url: callback } = await upstreamPick(browser, upstreamPage.res, upstreamPage.url, user);
  assert.ok(callback.startsWith(`${APP}/callback?`), callback);
  await logto.handleSignInCallback(callback);
  return logto;
}

async function passwordSignIn(browser: Browser, username: string, password: string) {
  const { logto, navigations } = sdk();
  await logto.signIn(`${APP}/callback`);
  const { res, url } = await browser.follow(navigations[0]!);
  const form = parseForm(await res.text(), '/sign-in');
  const { url: callback } = await browser.submit(
    new URL(form.action, url).href,
    { ...form.fields, username, password },
    {},
    APP,
  );
  await logto.handleSignInCallback(callback);
  return logto;
}

async function managementToken(): Promise<string> {
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${admin.appId}:${admin.appSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      resource: MANAGEMENT_RESOURCE,
      scope: 'all',
    }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const api = (path: string, token: string | undefined, init: RequestInit = {}) =>
  fetch(`${idp.url}${path}`, {
    ...init,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.headers as Record<string, string>),
    },
  });

test('social buttons: name, logo, Japanese name', async () => {
  const { logto, navigations } = sdk();
  await logto.signIn(`${APP}/callback`);
  const { res } = await new Browser().follow(navigations[0]!);
  const html = await res.text();
  assert.match(
    html,
    /<img src="data:image\/svg\+xml;base64,[^"]*" alt=""><span>Continue with Dev upstream<\/span>/,
  );
  assert.match(html, /Continue with Second upstream/);
  const ja = await new Browser({ 'accept-language': 'ja' }).follow(navigations[0]!);
  assert.match(await ja.res.text(), /開発用プロバイダー で続ける/);
});

test('social sign-up, sync policies, encrypted token storage, management API', async () => {
  const browser = new Browser();
  const logto = await socialSignIn(browser, 'dev', 'ada');
  const claims = await logto.getIdTokenClaims();
  assert.equal(claims.name, 'Ada Lovelace');
  const userId = claims.sub;

  const [identity] = await idp.store.listIdentities(userId);
  assert.equal(identity?.target, 'dev-upstream');
  assert.equal(identity?.identityId, 'ada');
  assert.ok(identity?.tokens);

  // Management API: refused without a token, or with a user's token.
  assert.equal((await api('/api/users', undefined)).status, 401);
  const userToken = await logto.getAccessToken();
  const refused = await api('/api/users', userToken);
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'unauthorized');

  const token = await managementToken();
  const list = await api('/api/users', token);
  assert.equal(list.status, 200);
  assert.ok(((await list.json()) as Array<{ id: string }>).some((u) => u.id === userId));
  const identities = (await (await api(`/api/users/${userId}/identities`, token)).json()) as Array<
    Record<string, unknown>
  >;
  assert.equal(identities[0]?.target, 'dev-upstream');
  assert.equal(identities[0]?.hasStoredTokens, true);
  assert.equal(JSON.stringify(identities).includes(identity.tokens), false);

  const stored = (await (
    await api(`/api/users/${userId}/identities/dev-upstream/tokens`, token)
  ).json()) as {
    tokens: { accessToken: string };
  };
  assert.ok(stored.tokens.accessToken);
  // At rest only the sealed box: the plaintext token is nowhere in the row.
  assert.equal(identity.tokens.includes(stored.tokens.accessToken), false);
  assert.equal(JSON.stringify(identity.details).includes(stored.tokens.accessToken), false);

  // on-every-sign-in: a local change is overwritten by the upstream profile at next sign-in.
  await idp.store.updateUserProfile(userId, { name: 'Changed' }, Date.now());
  const again = await socialSignIn(new Browser(), 'dev', 'ada');
  assert.equal((await again.getIdTokenClaims()).sub, userId);
  assert.equal((await idp.store.findUser(userId))?.name, 'Ada Lovelace');

  // on-sign-up: copied once, then left alone.
  const grace = await socialSignIn(new Browser(), 'dev2', 'grace');
  const graceId = (await grace.getIdTokenClaims()).sub;
  assert.equal((await idp.store.findUser(graceId))?.name, 'Grace Hopper');
  await idp.store.updateUserProfile(graceId, { name: 'Amazing Grace' }, Date.now());
  await socialSignIn(new Browser(), 'dev2', 'grace');
  assert.equal((await idp.store.findUser(graceId))?.name, 'Amazing Grace');
  assert.equal((await idp.store.listIdentities(graceId))[0]?.tokens, null, 'storeTokens: false');

  // The last way in cannot be removed by the user, nor by an admin without force.
  const mine = await api('/api/my-account/identities/dev-upstream', userToken, {
    method: 'DELETE',
  });
  assert.equal(mine.status, 422);
  assert.equal(
    ((await mine.json()) as { error: { code: string } }).error.code,
    'last_sign_in_method',
  );
  const adminDelete = await api(`/api/users/${graceId}/identities/dev-upstream-2`, token, {
    method: 'DELETE',
  });
  assert.equal(adminDelete.status, 422);
  const forced = await api(`/api/users/${graceId}/identities/dev-upstream-2?force=true`, token, {
    method: 'DELETE',
  });
  assert.equal(forced.status, 204);
  assert.deepEqual(await idp.store.listIdentities(graceId), []);

  // Bad input to the management API: JSON errors with a code, status < 500.
  const badJson = await api('/api/users', token, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{ nope',
  });
  assert.equal(badJson.status, 400);
  assert.equal(((await badJson.json()) as { error: { code: string } }).error.code, 'invalid_json');
  const badUser = await api('/api/users', token, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'x' }),
  });
  assert.equal(badUser.status, 400);
  const created = await api('/api/users', token, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'dave', password: 'long enough pw' }),
  });
  assert.equal(created.status, 201);
  assert.equal(((await created.json()) as { username: string }).username, 'dave');
  assert.equal((await api('/api/users/nope/identities', token)).status, 404);
  assert.equal((await api('/api/users?page_size=1000', token)).status, 400);
  assert.equal((await api('/api/users/nope', token, { method: 'PATCH' })).status, 405);
});

test('a web app cannot get a management API token', async () => {
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${app.appId}:${app.appSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: MANAGEMENT_RESOURCE }),
  });
  assert.equal(res.status, 400);
});

test('account API: link a social account in the signed-in browser, then unlink it', async () => {
  const browser = new Browser();
  const logto = await passwordSignIn(browser, 'alice', 'correct horse battery');
  const token = await logto.getAccessToken();
  const me = (await (await api('/api/my-account', token)).json()) as {
    username: string;
    identities: unknown[];
  };
  assert.equal(me.username, 'alice');
  assert.deepEqual(me.identities, []);

  const json = { 'content-type': 'application/json' };
  const start = await api('/api/my-account/identities/dev2/link', token, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ returnTo: `${APP}/settings` }),
  });
  assert.equal(start.status, 200);
  const { url } = (await start.json()) as { url: string };

  // The link URL opened in another browser (not signed in as alice) is refused.
  const stranger = new Browser();
  const refused = await stranger.follow(url, { stopAt: APP });
  assert.equal(new URL(refused.url).searchParams.get('error'), 'session_mismatch');

  const again = (await (
    await api('/api/my-account/identities/dev2/link', token, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ returnTo: `${APP}/settings` }),
    })
  ).json()) as { url: string };
  const page = await browser.follow(again.url);
  const done = await upstreamPick(browser, page.res, page.url, 'grace');
  assert.equal(done.url, `${APP}/settings?linked=dev-upstream-2`);
  const identities = (await (await api('/api/my-account/identities', token)).json()) as Array<{
    target: string;
  }>;
  assert.deepEqual(
    identities.map((i) => i.target),
    ['dev-upstream-2'],
  );

  // alice has a password, so unlinking is allowed.
  assert.equal(
    (await api('/api/my-account/identities/dev-upstream-2', token, { method: 'DELETE' })).status,
    204,
  );
  assert.equal(
    (await api('/api/my-account/identities/dev-upstream-2', token, { method: 'DELETE' })).status,
    404,
  );

  // Bad input.
  const openRedirect = await api('/api/my-account/identities/dev2/link', token, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ returnTo: 'https://evil.example/' }),
  });
  assert.equal(openRedirect.status, 400);
  const noConnector = await api('/api/my-account/identities/nope/link', token, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ returnTo: `${APP}/x` }),
  });
  assert.equal(noConnector.status, 404);
  assert.equal((await api('/api/my-account', 'not-a-token')).status, 401);
});

test('the callback refuses an unknown or replayed state', async () => {
  const res = await fetch(`${idp.url}/callback/dev?code=abc&state=forged`);
  assert.equal(res.status, 400);
  assert.match(await res.text(), /invalid or has expired/);
});
