import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import LogtoClient from '@logto/node';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { type Dispatcher, getGlobalDispatcher, MockAgent, setGlobalDispatcher } from 'undici';
import type { Idp } from '../src/index.js';
import { Browser, parseForm, startIdp } from './helpers.js';

/**
 * The seeds' journey, "Continue with Amazon", through the whole provider: the official
 * `@logto/node` SDK, the sign-in page, the Amazon connector package, the callback, the account,
 * the tokens. Only Amazon's own hosts are mocked (there is no internet here); every request to
 * the provider goes over real HTTP on 127.0.0.1.
 */

const APP = 'http://app.test.local';
const RESOURCE = 'https://api.bookstore.local';
const CLIENT_ID = 'amzn1.application-oa2-client.0123456789abcdef';
const CLIENT_SECRET = 'amazon-client-secret-do-not-leak';

let idp: Idp;
let app: { appId: string; appSecret: string };
let previous: Dispatcher;
let agent: MockAgent;

before(async () => {
  previous = getGlobalDispatcher();
  agent = new MockAgent();
  agent.disableNetConnect();
  // The test's own calls (SDK → provider, browser → provider) stay real; `host` has the port.
  agent.enableNetConnect(/^127\.0\.0\.1(:\d+)?$/);
  // Node 20's built-in fetch (used by ky in the connector, and by the SDK) honours it.
  setGlobalDispatcher(agent);

  idp = await startIdp();
  app = await idp.createApplication({
    name: 'Bookstore',
    redirectUris: [`${APP}/callback`],
    postLogoutRedirectUris: [APP],
  });
  await idp.createResource({ indicator: RESOURCE });
  // The seed's connector: clientId, clientSecret, scope.
  const added = await idp.addConnector({
    id: 'amazon',
    factoryId: 'amazon-universal',
    config: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, scope: 'profile' },
  });
  assert.deepEqual(added, { id: 'amazon', target: 'amazon' });
});

after(async () => {
  await idp?.close();
  setGlobalDispatcher(previous);
  await agent?.close();
});

function sdk() {
  const items = new Map<string, string>();
  const navigations: string[] = [];
  const logto = new LogtoClient(
    { endpoint: idp.url, ...app, resources: [RESOURCE], scopes: ['email'] },
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

/** Answers Amazon's token and profile endpoints once each, recording what the provider sent. */
function mockAmazon(profile: Record<string, string>) {
  const seen: { token?: URLSearchParams; authorization?: string | null } = {};
  const api = agent.get('https://api.amazon.com');
  api.intercept({ path: '/auth/o2/token', method: 'POST' }).reply(200, (options) => {
    seen.token = new URLSearchParams(String(options.body));
    return {
      access_token: 'Atza|amazon-access-token',
      token_type: 'bearer',
      expires_in: 3600,
      refresh_token: 'Atzr|amazon-refresh-token',
    };
  });
  api.intercept({ path: '/user/profile', method: 'GET' }).reply(200, (options) => {
    seen.authorization = new Headers(options.headers as Record<string, string>).get(
      'authorization',
    );
    return profile;
  });
  return seen;
}

/**
 * One sign-in: the SDK's URL, the sign-in page, the Amazon button, Amazon's authorization URL
 * (not fetched: Amazon approves), the provider's callback with the state and a code, and back to
 * the app, whose callback the SDK completes.
 */
async function continueWithAmazon(profile: Record<string, string>, code: string) {
  const { logto, navigations } = sdk();
  await logto.signIn(`${APP}/callback`);
  const browser = new Browser({ 'accept-language': 'en' });
  const page = await browser.follow(navigations[0]!);
  assert.equal(page.res.status, 200);
  const html = await page.res.text();
  assert.match(html, /<span>Continue with Amazon<\/span>/);
  assert.ok(!html.includes(CLIENT_SECRET), 'the sign-in page never shows the client secret');

  const button = parseForm(html, '/social/amazon');
  assert.ok(button.fields.csrf, 'the social button posts a CSRF token');
  const toAmazon = await browser.submit(
    new URL(button.action, page.url).href,
    button.fields,
    {},
    'https://www.amazon.com/',
  );
  const authorize = new URL(toAmazon.url);
  assert.equal(authorize.origin + authorize.pathname, 'https://www.amazon.com/ap/oa');
  assert.equal(authorize.searchParams.get('client_id'), CLIENT_ID);
  assert.equal(authorize.searchParams.get('redirect_uri'), `${idp.url}/callback/amazon`);
  assert.equal(authorize.searchParams.get('response_type'), 'code');
  assert.equal(authorize.searchParams.get('scope'), 'profile');
  const state = authorize.searchParams.get('state');
  assert.ok(state && state.length >= 32, 'an unguessable state');
  assert.ok(!toAmazon.url.includes(CLIENT_SECRET));

  const seen = mockAmazon(profile);
  const back = new URL(`${idp.url}/callback/amazon`);
  back.search = new URLSearchParams({ code, scope: 'profile', state }).toString();
  const { url: callback } = await browser.follow(back.href, { stopAt: APP });
  assert.ok(callback.startsWith(`${APP}/callback?`), callback);
  agent.assertNoPendingInterceptors();

  // What the provider sent to Amazon: the code, the registered callback, the seed's credentials.
  assert.deepEqual(Object.fromEntries(seen.token ?? []), {
    grant_type: 'authorization_code',
    code,
    redirect_uri: `${idp.url}/callback/amazon`,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
  });
  assert.equal(seen.authorization, 'Bearer Atza|amazon-access-token');

  await logto.handleSignInCallback(callback);
  assert.equal(await logto.isAuthenticated(), true);
  return logto;
}

test('"Continue with Amazon" signs up through the provider, then signs in as the same user', async () => {
  const ada = { user_id: 'amzn1.account.ADA', name: 'Ada Lovelace', email: 'ada@example.com' };
  const first = await continueWithAmazon(ada, 'ANfirstAuthCode');

  const claims = await first.getIdTokenClaims();
  const user = await idp.store.findUser(claims.sub);
  assert.ok(user, 'the user was created');
  assert.equal(user.name, 'Ada Lovelace');
  assert.equal(user.email, 'ada@example.com');
  assert.equal(user.username, null);
  assert.equal(user.passwordHash, null, 'a social-only user has no password');
  assert.equal(claims.name, 'Ada Lovelace');
  assert.equal(claims.email, 'ada@example.com');

  const identities = await idp.store.listIdentities(claims.sub);
  assert.deepEqual(
    identities.map((i) => [i.target, i.identityId, i.tokens]),
    [['amazon', 'amzn1.account.ADA', null]],
  );

  const accessToken = await first.getAccessToken(RESOURCE);
  const { payload, protectedHeader } = await jwtVerify(
    accessToken,
    createRemoteJWKSet(new URL(`${idp.issuer}/jwks`)),
    { issuer: idp.issuer, audience: RESOURCE, algorithms: ['ES384'], typ: 'at+jwt' },
  );
  assert.equal(protectedHeader.alg, 'ES384');
  assert.equal(payload.sub, claims.sub);
  assert.equal(payload.client_id, app.appId);

  const info = await first.fetchUserInfo();
  assert.equal(info.sub, claims.sub);
  assert.equal(info.name, 'Ada Lovelace');

  // Second visit, another browser, same Amazon account (new name at Amazon): same user, and the
  // default sync policy (on sign-up only) keeps the name the user had.
  const second = await continueWithAmazon({ ...ada, name: 'Augusta Ada King' }, 'ANsecondAuthCode');
  const again = await second.getIdTokenClaims();
  assert.equal(again.sub, claims.sub);
  const token = await second.getAccessToken(RESOURCE);
  const { payload: againPayload } = await jwtVerify(
    token,
    createRemoteJWKSet(new URL(`${idp.issuer}/jwks`)),
    { issuer: idp.issuer, audience: RESOURCE, algorithms: ['ES384'], typ: 'at+jwt' },
  );
  assert.equal(againPayload.sub, claims.sub);
  assert.equal((await idp.store.findUser(claims.sub))?.name, 'Ada Lovelace');
  const { total } = await idp.store.listUsers({ limit: 10, offset: 0 });
  assert.equal(total, 1, 'no second account was created');
});

test('a replayed Amazon callback (same state) is refused and calls Amazon no more', async () => {
  const { logto, navigations } = sdk();
  await logto.signIn(`${APP}/callback`);
  const browser = new Browser();
  const page = await browser.follow(navigations[0]!);
  const button = parseForm(await page.res.text(), '/social/amazon');
  const toAmazon = await browser.submit(
    new URL(button.action, page.url).href,
    button.fields,
    {},
    'https://www.amazon.com/',
  );
  const state = new URL(toAmazon.url).searchParams.get('state')!;
  mockAmazon({ user_id: 'amzn1.account.BOB', name: 'Bob' });
  const back = `${idp.url}/callback/amazon?code=ANcode&state=${encodeURIComponent(state)}`;
  const { url } = await browser.follow(back, { stopAt: APP });
  assert.ok(url.startsWith(`${APP}/callback?`), url);

  const replay = await new Browser().fetch(back);
  assert.equal(replay.status, 400);
  const text = await replay.text();
  assert.match(text, /invalid or has expired/);
  assert.ok(!text.includes('ANcode'));
  const forged = await new Browser().fetch(`${idp.url}/callback/amazon?code=x&state=forged`);
  assert.equal(forged.status, 400);
  await forged.arrayBuffer();
  agent.assertNoPendingInterceptors();
});
