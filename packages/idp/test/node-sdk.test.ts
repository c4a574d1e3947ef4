import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import LogtoClient from '@logto/node';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { Idp } from '../src/index.js';
import { Browser, parseForm, startIdp } from './helpers.js';

const RESOURCE = 'https://api.test.local';
const APP = 'http://app.test.local';

let idp: Idp;
let credentials: { appId: string; appSecret: string };

before(async () => {
  idp = await startIdp();
  credentials = await idp.createApplication({
    name: 'Node app',
    redirectUris: [`${APP}/callback`],
    postLogoutRedirectUris: [APP],
  });
  await idp.createResource({ indicator: RESOURCE });
});

after(() => idp?.close());

/** A LogtoClient over an in-memory storage, recording where it navigates. */
function client() {
  const items = new Map<string, string>();
  const navigations: string[] = [];
  const logto = new LogtoClient(
    { endpoint: idp.url, ...credentials, resources: [RESOURCE] },
    {
      storage: {
        getItem: async (key) => items.get(key) ?? null,
        setItem: async (key, value) => {
          items.set(key, value);
        },
        removeItem: async (key) => {
          items.delete(key);
        },
      },
      navigate: (url) => {
        navigations.push(url);
      },
    },
  );
  return { logto, navigations };
}

/** Walks the browser from the SDK's sign-in URL to the app's callback URL. */
async function authorize(
  browser: Browser,
  signInUrl: string,
  form: 'sign-in' | 'sign-up',
  fields: Record<string, string>,
) {
  let { res, url } = await browser.follow(signInUrl);
  if (form === 'sign-up') {
    ({ res, url } = await browser.follow(new URL(`${new URL(url).pathname}/sign-up`, url).href));
  }
  const parsed = parseForm(await res.text(), `/${form}`);
  const location = await browser.submit(
    new URL(parsed.action, url).href,
    { ...parsed.fields, ...fields },
    {},
    APP,
  );
  return location;
}

test('@logto/node LogtoClient: sign-up creates a user, then tokens and user info', async () => {
  const { logto, navigations } = client();
  await logto.signIn(`${APP}/callback`);
  assert.equal(navigations.length, 1);
  const authUrl = new URL(navigations[0]!);
  assert.equal(authUrl.origin + authUrl.pathname, `${idp.issuer}/auth`);
  assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');

  const browser = new Browser();
  const { url: callback } = await authorize(browser, navigations[0]!, 'sign-up', {
    username: 'bob',
    password: 'a long enough password',
  });
  assert.ok(callback.startsWith(`${APP}/callback?`), callback);
  await logto.handleSignInCallback(callback);
  assert.equal(await logto.isAuthenticated(), true);
  const claims = await logto.getIdTokenClaims();
  assert.equal(claims.username, 'bob');
  const stored = await idp.store.findUserByUsername('bob');
  assert.equal(stored?.id, claims.sub);

  const accessToken = await logto.getAccessToken(RESOURCE);
  assert.equal(decodeProtectedHeader(accessToken).typ, 'at+jwt');
  const { payload } = await jwtVerify(
    accessToken,
    createRemoteJWKSet(new URL(`${idp.issuer}/jwks`)),
    {
      issuer: idp.issuer,
      audience: RESOURCE,
      algorithms: ['ES384'],
      typ: 'at+jwt',
    },
  );
  assert.equal(payload.sub, claims.sub);

  const info = await logto.fetchUserInfo();
  assert.equal(info.sub, claims.sub);
  assert.equal(info.username, 'bob');

  await logto.signOut(APP);
  const endSession = new URL(navigations.at(-1)!);
  assert.equal(endSession.origin + endSession.pathname, `${idp.issuer}/session/end`);
  assert.equal(await logto.isAuthenticated(), false);
});

test("discovery has Logto's layout and ES384", async () => {
  const res = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
  const config = (await res.json()) as Record<string, unknown>;
  assert.equal(config.issuer, idp.issuer);
  assert.equal(config.authorization_endpoint, `${idp.issuer}/auth`);
  assert.equal(config.token_endpoint, `${idp.issuer}/token`);
  assert.equal(config.jwks_uri, `${idp.issuer}/jwks`);
  assert.equal(config.userinfo_endpoint, `${idp.issuer}/me`);
  assert.equal(config.end_session_endpoint, `${idp.issuer}/session/end`);
  assert.equal(config.revocation_endpoint, `${idp.issuer}/token/revocation`);
  assert.deepEqual(config.id_token_signing_alg_values_supported, ['ES384']);
  assert.deepEqual(config.code_challenge_methods_supported, ['S256']);
  const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as {
    keys: Array<Record<string, unknown>>;
  };
  assert.equal(jwks.keys[0]?.crv, 'P-384');
  assert.equal(jwks.keys[0]?.d, undefined);
});
