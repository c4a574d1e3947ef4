import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import LogtoClient from '@logto/node';
import { Accounts } from '../src/accounts.js';
import { type Idp, MANAGEMENT_RESOURCE } from '../src/index.js';
import { type DevUpstream, startDevUpstream } from '../src/social/index.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { Browser, parseForm, startIdp } from './helpers.js';

/**
 * Federated sign-in bound to the browser that started it: the upstream URL of one person's
 * sign-in opened in another person's browser signs nobody in as anybody. Plus account linking,
 * cookie names distinct from the development upstream's, the unlink race, and no-store answers.
 * Every browser here is its own cookie jar.
 */

const APP = 'http://app.test.local';
let idp: Idp;
let upstream: DevUpstream;
let app: { appId: string; appSecret: string };

before(async () => {
  upstream = await startDevUpstream({ port: 0, log: () => {} });
  idp = await startIdp();
  app = await idp.createApplication({
    name: 'Bookstore',
    redirectUris: [`${APP}/callback`],
    postLogoutRedirectUris: [APP],
  });
  await idp.addConnector({
    factoryId: 'oauth2',
    id: 'dev',
    target: 'dev-upstream',
    name: { en: 'Demo OAuth' },
    config: upstream.connectorConfig(),
  });
  await idp.createUser({ username: 'mallory', password: 'mallory password 1' });
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

/** Opens the sign-in page and presses "Continue with Demo OAuth"; returns the upstream URL. */
async function startSocial(browser: Browser) {
  const { logto, navigations } = sdk();
  await logto.signIn(`${APP}/callback`);
  const { res, url } = await browser.follow(navigations[0]!);
  const form = parseForm(await res.text(), '/social/dev');
  const start = await browser.fetch(new URL(form.action, url).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form.fields).toString(),
  });
  await start.arrayBuffer();
  assert.equal(start.status, 303);
  const upstreamUrl = start.headers.get('location')!;
  assert.ok(upstreamUrl.startsWith(upstream.authorizationEndpoint), upstreamUrl);
  const uid = /\/interaction\/([^/]+)\//.exec(form.action)![1]!;
  return { logto, upstreamUrl, uid, state: new URL(upstreamUrl).searchParams.get('state')! };
}

/**
 * Follows `url` in `browser` through the upstream, picking `user` if the upstream asks, until
 * the provider's own answer (the callback's page, or a redirect to the app).
 */
async function throughUpstream(browser: Browser, url: string, user: string) {
  let { res, url: at } = await browser.follow(url, { stopAt: APP });
  if (at.startsWith(upstream.issuer) && res.status === 200) {
    const form = parseForm(await res.text(), '/login');
    ({ res, url: at } = await browser.submit(
      new URL(form.action, at).href,
      { ...form.fields, user },
      {},
      APP,
    ));
  }
  return { res, url: at };
}

async function signInWithUpstream(browser: Browser, user: string) {
  const { logto, upstreamUrl } = await startSocial(browser);
  const { url } = await throughUpstream(browser, upstreamUrl, user);
  assert.ok(url.startsWith(`${APP}/callback?`), url);
  await logto.handleSignInCallback(url);
  return logto;
}

test('the upstream URL of one sign-in, opened in another browser, signs nobody in', async () => {
  // The victim has signed in with the upstream before, so the upstream answers at once.
  const victim = new Browser();
  const victimSdk = await signInWithUpstream(victim, 'grace');
  const graceId = (await victimSdk.getIdTokenClaims()).sub;

  const attacker = new Browser();
  const { upstreamUrl, uid, state, logto } = await startSocial(attacker);
  // The attacker sends the upstream URL (with his state) to the victim, who opens it.
  const landed = await throughUpstream(victim, upstreamUrl, 'grace');
  assert.ok(landed.url.startsWith(`${idp.url}/callback/dev?`), landed.url);
  assert.equal(landed.res.status, 400);
  assert.match(await landed.res.text(), /started in another browser/);
  assert.equal(await idp.store.findSocialSession(state, Date.now()), undefined, 'flow ended');

  // The attacker now tries to finish "his" sign-in.
  const complete = await attacker.follow(
    `${idp.url}/interaction/${uid}/social-complete/${encodeURIComponent(state)}`,
    { stopAt: APP },
  );
  assert.equal(complete.url.startsWith(`${APP}/callback`), false, 'no code for the attacker');
  assert.equal(complete.res.status, 400);
  await complete.res.arrayBuffer();
  assert.equal(await logto.isAuthenticated(), false);
  const identity = await idp.store.findIdentity('dev-upstream', 'grace');
  assert.equal(identity?.userId, graceId, "grace's identity is still grace's alone");
});

test('a completion that fails consumes the flow: the stored profile cannot be retried', async () => {
  const owner = new Browser();
  const { uid, upstreamUrl, state } = await startSocial(owner);
  // The owner's browser goes to the upstream and back to the callback, but stops there.
  const cb = await owner.follow(upstreamUrl, { stopAt: `${idp.url}/callback/` });
  let callbackUrl = cb.url;
  if (!callbackUrl.startsWith(`${idp.url}/callback/`)) {
    const form = parseForm(await cb.res.text(), '/login');
    callbackUrl = (
      await owner.submit(
        new URL(form.action, cb.url).href,
        { ...form.fields, user: 'ada' },
        {},
        `${idp.url}/callback/`,
      )
    ).url;
  }
  const stored = await owner.fetch(callbackUrl);
  await stored.arrayBuffer();
  assert.equal(stored.status, 303);
  assert.ok((await idp.store.findSocialSession(state, Date.now()))?.result, 'profile stored');

  // The same completion URL from a browser without this flow's cookies is refused, and the
  // flow is used up: the owner cannot finish it afterwards either.
  const completeUrl = `${idp.url}/interaction/${uid}/social-complete/${encodeURIComponent(state)}`;
  const refused = await new Browser().fetch(completeUrl);
  await refused.arrayBuffer();
  assert.equal(refused.status, 400);
  assert.equal(await idp.store.findSocialSession(state, Date.now()), undefined);
  const retry = await owner.fetch(completeUrl);
  await retry.arrayBuffer();
  assert.equal(retry.status, 400);
});

test('account linking: the link URL only works in the browser signed in as the user', async () => {
  const mallory = new Browser();
  const { logto, navigations } = sdk();
  await logto.signIn(`${APP}/callback`);
  const page = await mallory.follow(navigations[0]!);
  const form = parseForm(await page.res.text(), '/sign-in');
  const done = await mallory.submit(
    new URL(form.action, page.url).href,
    { ...form.fields, username: 'mallory', password: 'mallory password 1' },
    {},
    APP,
  );
  await logto.handleSignInCallback(done.url);
  const token = await logto.getAccessToken();
  const startLink = async () => {
    const res = await fetch(`${idp.url}/api/my-account/identities/dev/link`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ returnTo: `${APP}/settings` }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    return ((await res.json()) as { url: string }).url;
  };

  // Mallory sends her link URL to a victim: refused before the victim reaches the upstream.
  const victim = new Browser();
  const url = await startLink();
  assert.ok(url.startsWith(`${idp.url}/social/link/`), url);
  const refused = await victim.follow(url, { stopAt: APP });
  assert.equal(new URL(refused.url).searchParams.get('error'), 'session_mismatch');
  assert.equal(
    victim.visited.some((visited) => visited.startsWith(upstream.issuer)),
    false,
    'the victim never reached the upstream',
  );

  // The upstream's answer to Mallory's browser, opened in another browser: refused.
  const again = await startLink();
  const toUpstream = await mallory.follow(again, { stopAt: upstream.issuer });
  const upstreamBrowser = new Browser();
  const back = await upstreamBrowser.follow(toUpstream.url, { stopAt: `${idp.url}/callback/` });
  const pick = parseForm(await back.res.text(), '/login');
  const callback = await upstreamBrowser.submit(
    new URL(pick.action, back.url).href,
    { ...pick.fields, user: 'ada' },
    {},
    `${idp.url}/callback/`,
  );
  const stranger = await new Browser().fetch(callback.url);
  assert.equal(stranger.status, 400);
  assert.match(await stranger.text(), /started in another browser/);
  assert.deepEqual(await idp.store.listIdentities((await logto.getIdTokenClaims()).sub), []);

  // In Mallory's own browser the whole link works.
  const third = await startLink();
  const linked = await throughUpstream(mallory, third, 'ada');
  assert.equal(linked.url, `${APP}/settings?linked=dev-upstream`);
});

test('the provider and the development upstream use distinct cookie names', async () => {
  const names = (res: Response) =>
    res.headers.getSetCookie().map((cookie) => cookie.slice(0, cookie.indexOf('=')));
  const { navigations, logto } = sdk();
  await logto.signIn(`${APP}/callback`);
  const provider = await new Browser().fetch(navigations[0]!);
  await provider.arrayBuffer();
  const { upstreamUrl } = await startSocial(new Browser());
  const atUpstream = await new Browser().fetch(upstreamUrl);
  await atUpstream.arrayBuffer();
  const ours = names(provider);
  const theirs = names(atUpstream);
  assert.ok(ours.length > 0 && theirs.length > 0);
  // Browsers scope cookies by host, not port: on 127.0.0.1 equal names would overwrite.
  assert.deepEqual(
    ours.filter((name) => theirs.includes(name)),
    [],
  );
});

test('two concurrent unlinks cannot remove the last way to sign in', async () => {
  const store = openSqliteStore(':memory:');
  try {
    const accounts = new Accounts(store);
    const now = Date.now();
    const identity = (target: string) => ({
      userId: 'u1',
      target,
      identityId: `${target}-id`,
      details: {},
      tokens: null,
      createdAt: now,
      updatedAt: now,
    });
    await store.insertUser(
      {
        id: 'u1',
        username: null,
        passwordHash: null,
        name: null,
        email: null,
        avatar: null,
        createdAt: now,
        updatedAt: now,
      },
      identity('a'),
    );
    await store.upsertIdentity(identity('b'));
    const results = await Promise.allSettled([
      accounts.unlinkIdentity('u1', 'a'),
      accounts.unlinkIdentity('u1', 'b'),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const failure = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((failure.reason as { code: string }).code, 'last_sign_in_method');
    assert.equal((await store.listIdentities('u1')).length, 1);
  } finally {
    await store.close();
  }
});

test('every provider page and API answer says Cache-Control: no-store', async () => {
  const { navigations, logto } = sdk();
  await logto.signIn(`${APP}/callback`);
  const browser = new Browser();
  const signInPage = await browser.follow(navigations[0]!);
  await signInPage.res.arrayBuffer();
  const admin = await idp.createM2MApplication({ name: 'Admin' });
  const tokenRes = await fetch(`${idp.issuer}/token`, {
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
  const { access_token } = (await tokenRes.json()) as { access_token: string };
  const answers: Array<[string, Response]> = [
    ['sign-in page', signInPage.res],
    ['token endpoint', tokenRes],
    [
      'management API',
      await fetch(`${idp.url}/api/users`, { headers: { authorization: `Bearer ${access_token}` } }),
    ],
    ['account API error', await fetch(`${idp.url}/api/my-account`)],
    ['callback page', await fetch(`${idp.url}/callback/dev?state=x&code=y`)],
    ['link start page', await fetch(`${idp.url}/social/link/unknown`)],
    ['expired interaction', await fetch(`${idp.url}/interaction/nope`)],
  ];
  for (const [what, res] of answers) {
    await res.arrayBuffer().catch(() => undefined);
    assert.equal(res.headers.get('cache-control'), 'no-store', what);
  }
});
