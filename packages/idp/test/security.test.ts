import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { importJWK, type JWK, SignJWT } from 'jose';
import { createIdp, type Idp, MANAGEMENT_RESOURCE, startDevUpstream } from '../src/index.js';
import { Browser, parseForm } from './helpers.js';

/**
 * Security review checks that cut across routes: body size limits (413, never a hang or a crash),
 * the JSON error envelope with a status below 500 for bad input, cookie flags, CSRF on the
 * social button, the management API's audience/scope/type checks, and nothing secret logged.
 */

const APP = 'http://app.test.local';
const TEN_MB = 10 * 1024 * 1024;
const PASSWORD = 'a secret password 123';
const warnings: string[] = [];
let idp: Idp;
let app: { appId: string; appSecret: string };
let admin: { appId: string; appSecret: string };

before(async () => {
  idp = createIdp({
    endpoint: 'http://127.0.0.1',
    port: 0,
    database: ':memory:',
    env: {},
    warn: (message) => void warnings.push(message),
  });
  await idp.listen();
  app = await idp.createApplication({
    name: 'Bookstore',
    redirectUris: [`${APP}/callback`],
    postLogoutRedirectUris: [APP],
  });
  admin = await idp.createM2MApplication({ name: 'Admin' });
  await idp.createUser({ username: 'alice', password: PASSWORD });
  await idp.addConnector({
    id: 'amazon',
    factoryId: 'amazon-universal',
    config: { clientId: 'amzn1.application-oa2-client.x', clientSecret: 'amazon-top-secret' },
  });
});

after(() => idp?.close());

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

/** A sign-in page of a fresh interaction, as a browser sees it. */
async function signInPage() {
  const auth = new URL(`${idp.issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: app.appId,
    redirect_uri: `${APP}/callback`,
    response_type: 'code',
    scope: 'openid',
    state: 'app-state',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  }).toString();
  const browser = new Browser();
  const { res, url } = await browser.follow(auth.href);
  assert.equal(res.status, 200);
  return { browser, url, html: await res.text() };
}

async function errorOf(res: Response) {
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
  return body.error;
}

test('a 10 MB POST gets 413 on every surface, and the server keeps serving', async () => {
  const token = await managementToken();
  const big = `username=${'x'.repeat(TEN_MB)}`;
  const { url, html } = await signInPage();
  const form = parseForm(html, '/sign-in');
  const cases: Array<[string, Record<string, string>]> = [
    [new URL(form.action, url).href, { 'content-type': 'application/x-www-form-urlencoded' }],
    [
      `${idp.url}/api/users`,
      { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    ],
    [`${idp.url}/api/users`, { 'content-type': 'application/json' }],
    [`${idp.url}/api/my-account/identities/amazon/link`, { 'content-type': 'application/json' }],
    [`${idp.issuer}/token`, { 'content-type': 'application/x-www-form-urlencoded' }],
  ];
  for (const [target, headers] of cases) {
    const res = await fetch(target, {
      method: 'POST',
      headers,
      body: big,
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(res.status, 413, target);
    const text = await res.text();
    if (target.includes('/api/')) {
      assert.equal(JSON.parse(text).error.code, 'payload_too_large');
    }
  }

  // Without Content-Length (chunked), the limit is enforced while reading.
  const chunk = new Uint8Array(1024 * 1024).fill(0x61);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= 10) return controller.close();
      sent += 1;
      controller.enqueue(chunk);
    },
  });
  const chunked = await fetch(`${idp.url}/api/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: stream,
    duplex: 'half',
    signal: AbortSignal.timeout(20_000),
  } as RequestInit);
  assert.equal(chunked.status, 413);
  assert.equal((await errorOf(chunked)).code, 'payload_too_large');

  const alive = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
  assert.equal(alive.status, 200);
  await alive.arrayBuffer();
});

test('bad input on the APIs: the JSON error envelope, status below 500', async () => {
  const token = await managementToken();
  const auth = { authorization: `Bearer ${token}` };
  const cases: Array<[string, RequestInit, number, string]> = [
    [
      '/api/users',
      { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{' },
      400,
      'invalid_json',
    ],
    [
      '/api/users',
      { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '[]' },
      400,
      'invalid_json',
    ],
    [
      '/api/users',
      { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: '{}' },
      400,
      'invalid_json',
    ],
    [
      '/api/users',
      {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'x', password: 1 }),
      },
      400,
      'invalid_request',
    ],
    ['/api/users?page_size=1000', { headers: auth }, 400, 'invalid_request'],
    ['/api/users/%E0%A4%A', { headers: auth }, 400, 'invalid_request'],
    ['/api/users/%E0%A4%A/identities', {}, 400, 'invalid_request'],
    ['/api/users', { method: 'PUT', headers: auth }, 405, 'method_not_allowed'],
    ['/api/users/nobody', { headers: auth }, 404, 'not_found'],
    ['/api/nothing-here', {}, 404, 'not_found'],
    ['/api/users', {}, 401, 'unauthorized'],
    ['/api/my-account', { headers: { authorization: 'Bearer nope' } }, 401, 'unauthorized'],
  ];
  for (const [path, init, status, code] of cases) {
    const res = await fetch(`${idp.url}${path}`, init);
    assert.equal(res.status, status, `${init.method ?? 'GET'} ${path}`);
    assert.equal((await errorOf(res)).code, code, path);
  }
  // A malformed path outside the APIs is a 400 page, not a 500.
  const page = await fetch(`${idp.url}/interaction/%E0%A4%A`);
  assert.equal(page.status, 400);
  await page.arrayBuffer();
});

test('the management API checks signature, issuer, audience, type and the "all" scope', async () => {
  const [row] = await idp.store.listKeys('signing');
  const jwk = JSON.parse(row!.material) as JWK;
  const key = await importJWK(jwk, 'ES384');
  const mint = (
    claims: Record<string, unknown>,
    { typ = 'at+jwt', aud = MANAGEMENT_RESOURCE, iss = idp.issuer } = {},
  ) =>
    new SignJWT({ client_id: admin.appId, ...claims })
      .setProtectedHeader({ alg: 'ES384', typ, kid: jwk.kid! })
      .setIssuer(iss)
      .setAudience(aud)
      .setSubject(admin.appId)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
  const call = (token: string) =>
    fetch(`${idp.url}/api/users`, { headers: { authorization: `Bearer ${token}` } });

  let res = await call(await mint({ scope: 'all' }));
  assert.equal(res.status, 200, 'the control: a well-formed token passes');
  await res.arrayBuffer();
  const refused: Array<[string, number, string]> = [
    [await mint({ scope: 'all' }, { aud: 'https://api.bookstore.local' }), 401, 'unauthorized'],
    [await mint({ scope: 'all' }, { iss: 'http://evil.test/oidc' }), 401, 'unauthorized'],
    [await mint({ scope: 'all' }, { typ: 'JWT' }), 401, 'unauthorized'],
    [await mint({ scope: 'read' }), 403, 'forbidden'],
    [await mint({}), 403, 'forbidden'],
  ];
  for (const [token, status, code] of refused) {
    res = await call(token);
    assert.equal(res.status, status);
    assert.equal((await errorOf(res)).code, code);
  }
  // A token signed by another key with the same kid.
  const { generateKeyPair } = await import('jose');
  const other = await generateKeyPair('ES384');
  const forged = await new SignJWT({ scope: 'all' })
    .setProtectedHeader({ alg: 'ES384', typ: 'at+jwt', kid: jwk.kid! })
    .setIssuer(idp.issuer)
    .setAudience(MANAGEMENT_RESOURCE)
    .setExpirationTime('5m')
    .sign(other.privateKey);
  res = await call(forged);
  assert.equal(res.status, 401);
  await res.arrayBuffer();
});

test('cookies are HttpOnly and SameSite; the social button needs the CSRF token', async () => {
  const { browser, url, html } = await signInPage();
  assert.ok(!html.includes('amazon-top-secret'));
  // The cookies an authorization request sets (the interaction cookie and its signature).
  const res = await new Browser().fetch(
    `${idp.issuer}/auth?${new URLSearchParams({
      client_id: app.appId,
      redirect_uri: `${APP}/callback`,
      response_type: 'code',
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    })}`,
  );
  await res.arrayBuffer();
  const cookies = res.headers.getSetCookie();
  assert.ok(cookies.length > 0);
  for (const cookie of cookies) {
    assert.match(cookie, /;\s*httponly/i, cookie);
    assert.match(cookie, /;\s*samesite=lax/i, cookie);
  }

  const button = parseForm(html, '/social/amazon');
  for (const csrf of [undefined, 'forged']) {
    const fields: Record<string, string> = { ...button.fields };
    if (csrf === undefined) delete fields.csrf;
    else fields.csrf = csrf;
    const post = await browser.fetch(new URL(button.action, url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    assert.equal(post.status, 403);
    assert.equal(post.headers.get('location'), null, 'no redirect to Amazon');
    await post.arrayBuffer();
  }
  assert.equal((await idp.store.listUsers({ limit: 10, offset: 0 })).total, 1);
});

test('nothing secret reached the log', () => {
  const log = warnings.join('\n');
  for (const secret of [PASSWORD, app.appSecret, admin.appSecret, 'amazon-top-secret']) {
    assert.ok(!log.includes(secret), 'a secret was logged');
  }
  // Only the start-up banner and the vault notice: bad input is not an incident.
  assert.ok(
    warnings.every((w) => /development|GUESTMODE_IDP_VAULT_KEY/i.test(w)),
    log,
  );
});

test('the development upstream answers a 10 MB token request with 413', async () => {
  const upstream = await startDevUpstream({ port: 0, log: () => {} });
  try {
    const res = await fetch(upstream.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `code=${'x'.repeat(TEN_MB)}`,
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(res.status, 413);
    assert.ok(!(await res.text()).includes(upstream.clientSecret));
  } finally {
    await upstream.close();
  }
});
