import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { handleAuthRoutes, type LogtoExpressConfig, withLogto } from '@logto/express';
import cookieParser from 'cookie-parser';
import express from 'express';
import session from 'express-session';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { Idp } from '../src/index.js';
import { Browser, parseForm, startApp, startIdp } from './helpers.js';

const RESOURCE = 'https://api.test.local';

let idp: Idp;
let app: Awaited<ReturnType<typeof startApp>>;
let userId: string;

before(async () => {
  idp = await startIdp();
  app = await startApp();
  const { appId, appSecret } = await idp.createApplication({
    name: 'Bookstore',
    redirectUris: [`${app.url}/logto/sign-in-callback`],
    postLogoutRedirectUris: [app.url],
  });
  await idp.createResource({ indicator: RESOURCE, scopes: ['read:books'] });
  ({ id: userId } = await idp.createUser({
    username: 'alice',
    password: 'correct horse battery',
    name: 'Alice',
    email: 'alice@example.com',
  }));

  const config: LogtoExpressConfig = {
    endpoint: idp.url,
    appId,
    appSecret,
    baseUrl: app.url,
    resources: [RESOURCE],
    scopes: ['email', 'read:books'],
  };
  const server = express();
  server.use(cookieParser());
  server.use(session({ secret: 'test-session-secret', resave: false, saveUninitialized: false }));
  server.use(handleAuthRoutes(config));
  server.get('/', withLogto(config), (req, res) => {
    res.json(req.user);
  });
  server.get(
    '/token',
    withLogto({ ...config, getAccessToken: true, resource: RESOURCE }),
    (req, res) => {
      res.json(req.user);
    },
  );
  server.get('/userinfo', withLogto({ ...config, fetchUserInfo: true }), (req, res) => {
    res.json(req.user);
  });
  app.use(server);
});

after(async () => {
  await app?.close();
  await idp?.close();
});

async function signIn(browser: Browser, username: string, password: string) {
  const { res: page, url } = await browser.follow(`${app.url}/logto/sign-in`);
  assert.equal(page.status, 200);
  assert.match(url, /\/interaction\//);
  const html = await page.text();
  const form = parseForm(html, '/sign-in');
  return browser.submit(new URL(form.action, url).href, { ...form.fields, username, password });
}

test('@logto/express signs in: withLogto shows the user, tokens verify, sign-out returns', async () => {
  const browser = new Browser();
  const { res, url } = await signIn(browser, 'alice', 'correct horse battery');
  assert.equal(url, `${app.url}/`);
  const context = (await res.json()) as {
    isAuthenticated: boolean;
    claims?: Record<string, unknown>;
  };
  assert.equal(context.isAuthenticated, true);
  assert.equal(context.claims?.sub, userId);
  assert.equal(context.claims?.name, 'Alice');
  assert.equal(context.claims?.username, 'alice');
  // No page between the password and the app: consent is automatic for first-party apps.
  // (visited: the sign-in page, its form post, and the consent interaction that redirects on).
  const interactions = browser.visited.filter((u) => u.includes('/interaction/'));
  assert.equal(interactions.length, 3, interactions.join('\n'));

  const tokenRes = await browser.fetch(`${app.url}/token`);
  const withToken = (await tokenRes.json()) as { isAuthenticated: boolean; accessToken?: string };
  assert.equal(withToken.isAuthenticated, true);
  assert.ok(withToken.accessToken);
  const header = decodeProtectedHeader(withToken.accessToken);
  assert.equal(header.alg, 'ES384');
  assert.equal(header.typ, 'at+jwt');
  const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));
  const { payload } = await jwtVerify(withToken.accessToken, jwks, {
    issuer: idp.issuer,
    audience: RESOURCE,
    algorithms: ['ES384'],
    typ: 'at+jwt',
  });
  assert.equal(payload.sub, userId);
  assert.equal(payload.scope, 'read:books');
  assert.ok(payload.client_id);

  const infoRes = await browser.fetch(`${app.url}/userinfo`);
  const info = (await infoRes.json()) as { userInfo?: Record<string, unknown> };
  assert.equal(info.userInfo?.sub, userId);
  assert.equal(info.userInfo?.email, 'alice@example.com');

  // Sign-out: the provider's page submits itself (script allowed by CSP hash), then the browser
  // lands on the post-logout URI.
  const { res: logoutPage, url: logoutUrl } = await browser.follow(`${app.url}/logto/sign-out`);
  assert.match(logoutUrl, /\/oidc\/session\/end/);
  const csp = logoutPage.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'sha256-/);
  const html = await logoutPage.text();
  assert.match(html, /<script>document\.getElementById\('op\.logoutForm'\)\.submit\(\);<\/script>/);
  const form = parseForm(html, '/session/end/confirm');
  const { url: landed } = await browser.submit(new URL(form.action, logoutUrl).href, form.fields);
  assert.equal(landed, `${app.url}/`);
  const after = (await (await browser.fetch(`${app.url}/`)).json()) as { isAuthenticated: boolean };
  assert.equal(after.isAuthenticated, false);
});
