// A real @logto/next LogtoClient and the local provider over HTTP, with the API routes run by
// Next's own API resolver (the code `next start` runs for pages/api), so the helpers meet the
// same req.query, req.cookies, body parsing and res.redirect as in an app.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { createGuestmode, type Guestmode, type GuestmodeOptions } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { parseForm, Browser as TestBrowser } from '@guestmode/testkit/browser';
import LogtoClient, { type LogtoNextConfig } from '@logto/next';
import type { NextApiHandler } from 'next';
import { apiResolver } from 'next/dist/server/api-utils/node/api-resolver.js';
import {
  createGuestmodeNext,
  createMetricsHandler,
  type GuestmodeNext,
  type GuestmodeNextOptions,
} from '../src/index.js';

export { parseForm };

export const RESOURCE = 'https://api.test.local';
/** Opens the fixture's `/api/metrics`. */
export const METRICS_TOKEN = 'metrics-token-for-tests';

/**
 * The parts of `@guestmode/idp` these tests use. It is loaded by a specifier the type checker
 * does not follow: this package's type-check project includes `next`, whose global types
 * (a required `NodeJS.ProcessEnv.NODE_ENV`) would otherwise be applied to the provider's
 * sources, which are type-checked by the root project.
 */
export interface Idp {
  readonly url: string;
  readonly issuer: string;
  listen(): Promise<unknown>;
  close(): Promise<void>;
  createApplication(input: {
    name: string;
    redirectUris: string[];
    postLogoutRedirectUris: string[];
  }): Promise<{ appId: string; appSecret: string }>;
  createResource(input: { indicator: string }): Promise<unknown>;
  createUser(input: { username: string; password: string }): Promise<{ id: string }>;
}
const IDP_MODULE: string = '@guestmode/idp';
export const { createIdp } = (await import(IDP_MODULE)) as {
  createIdp(options: Record<string, unknown>): Idp;
};

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** What both routers' fixtures start from: the provider, the engine, and a server for the app. */
export interface FixtureBase {
  idp: Idp;
  engine: Guestmode;
  /** The `@logto/next` configuration of the app registered with the provider. */
  logto: LogtoNextConfig;
  url: string;
  server: Server;
  users: { alice: string; bob: string };
  close(): Promise<void>;
}

/**
 * The local provider (with the app `name`, the resource, and the users alice and bob), the
 * engine on an in-memory SQLite database, and an HTTP server on 127.0.0.1 (port 0) whose
 * `request` handler the caller adds.
 */
/** Engine options of a fixture, or a function of the provider for those that need its URLs. */
export type EngineOptions = Partial<GuestmodeOptions> | ((idp: Idp) => Partial<GuestmodeOptions>);

export async function startFixtureBase(
  name: string,
  engineOptions: EngineOptions = {},
): Promise<FixtureBase> {
  const idp = createIdp({
    endpoint: 'http://127.0.0.1',
    port: 0,
    database: ':memory:',
    env: {},
    warn: () => {},
  });
  await idp.listen();
  const engine = createGuestmode({
    storage: await openSqliteStorage({ database: ':memory:' }),
    mergeRules: { cart: 'sum-by-key', theme: 'user-wins' },
    accessTokens: { issuer: idp.issuer, audience: RESOURCE },
    ...(typeof engineOptions === 'function' ? engineOptions(idp) : engineOptions),
  });
  const server = createServer();
  const url = await listen(server);
  const { appId, appSecret } = await idp.createApplication({
    name,
    redirectUris: [`${url}/api/logto/sign-in-callback`],
    postLogoutRedirectUris: [url],
  });
  await idp.createResource({ indicator: RESOURCE });
  const alice = (await idp.createUser({ username: 'alice', password: 'alice password 1' })).id;
  const bob = (await idp.createUser({ username: 'bob', password: 'bob password 12' })).id;
  const logto: LogtoNextConfig = {
    endpoint: idp.url,
    appId,
    appSecret,
    baseUrl: url,
    cookieSecret: 'a-test-cookie-secret-of-at-least-32-chars',
    cookieSecure: false,
    resources: [RESOURCE],
  };
  return {
    idp,
    engine,
    logto,
    url,
    server,
    users: { alice, bob },
    async close() {
      await closeServer(server);
      await idp.close();
      await engine.close();
    },
  };
}

/** The jar as Next sees cookies: values URI-decoded when stored, URI-encoded when sent. */
export class Browser extends TestBrowser {
  constructor() {
    super({ uriEncodedValues: true });
  }
}

export interface Fixture extends FixtureBase {
  gm: GuestmodeNext;
}

const API_CONTEXT = {
  previewModeId: 'test',
  previewModeEncryptionKey: 'test',
  previewModeSigningKey: 'test',
  dev: false,
};

/**
 * The local provider, and an app whose routes are what the docs say:
 * `pages/api/logto/[action].ts` = `gm.handleAuthRoutes(logtoClient.handleAuthRoutes())`,
 * `pages/api/guestmode/[...path].ts` = `gm.handleGuestRoutes()`, plus `pages/api/me.ts` with
 * `gm.withGuest` and `pages/api/ssr.ts` running a `getServerSideProps` made by `gm.withGuestSsr`.
 */
export async function startFixture(
  options: Partial<Omit<GuestmodeNextOptions, 'guestmode' | 'logto' | 'logtoClient'>> = {},
  engineOptions: EngineOptions = {},
): Promise<Fixture> {
  const base = await startFixtureBase('Test shop', engineOptions);
  const { engine, logto, url, server } = base;
  const logtoClient = new LogtoClient(logto);
  const gm = createGuestmodeNext({ guestmode: engine, logtoClient, logto, ...options });

  const auth = gm.handleAuthRoutes(logtoClient.handleAuthRoutes());
  const guestRoutes = gm.handleGuestRoutes();
  const me = gm.withGuest(async (req, res) => {
    res.json({
      kind: req.guest.kind,
      id: req.guest.id ?? null,
      userId: req.guest.userId ?? null,
      sub: req.user.claims?.sub ?? null,
      attributes: await req.guest.all(),
    });
  });
  const metrics = createMetricsHandler({ guestmode: engine, token: METRICS_TOKEN });
  const getServerSideProps = gm.withGuestSsr(async ({ guest, user }) => ({
    props: { profile: await guest.profile(), isAuthenticated: user.isAuthenticated },
  }));
  const ssr: NextApiHandler = async (req, res) => {
    const result = await getServerSideProps({ req, res, query: {}, resolvedUrl: '/' });
    res.json(result);
  };

  server.on('request', (req, res) => {
    const path = new URL(req.url ?? '/', url).pathname;
    const segments = path.split('/').filter(Boolean);
    let handler: NextApiHandler | undefined;
    let query: Record<string, unknown> = {};
    let page = path;
    if (segments[0] === 'api' && segments[1] === 'logto' && segments.length === 3) {
      handler = auth;
      query = { action: segments[2] };
      page = '/api/logto/[action]';
    } else if (segments[0] === 'api' && segments[1] === 'guestmode' && segments.length > 2) {
      handler = guestRoutes;
      query = { path: segments.slice(2) };
      page = '/api/guestmode/[...path]';
    } else if (path === '/api/metrics') handler = metrics;
    else if (path === '/api/me') handler = me;
    else if (path === '/api/ssr') handler = ssr;
    void apiResolver(
      req,
      res,
      query,
      handler ? { default: handler } : undefined,
      API_CONTEXT,
      false,
      false,
      page,
    );
  });

  return { ...base, gm };
}

export interface Me {
  kind: string;
  id: string | null;
  userId: string | null;
  sub: string | null;
  attributes: Record<string, unknown>;
}

/** The app's view of the current principal (`withGuest`). */
export async function me(browser: Browser, url: string): Promise<Me> {
  const res = await browser.fetch(`${url}/api/me`);
  assert.equal(res.status, 200);
  return (await res.json()) as Me;
}

/** What a browser sends with a request from the app's own pages. */
export const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' } as const;

/** `PUT /api/guestmode/attributes/<name>` with a JSON value, from the app's own page. */
export function put(browser: Browser, url: string, name: string, value: unknown) {
  return browser.fetch(`${url}/api/guestmode/attributes/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...SAME_ORIGIN },
    body: JSON.stringify(value),
  });
}

/** Starts a sign-in from the app's own page (`site` says otherwise) and follows to the provider. */
export function startSignIn(browser: Browser, url: string, site = 'same-origin') {
  return browser.follow(`${url}/api/logto/sign-in`, { headers: { 'sec-fetch-site': site } });
}

/** Starts the sign-in at the app and submits the provider's password form. */
export async function signIn(browser: Browser, url: string, username: string, password: string) {
  const start = await startSignIn(browser, url);
  assert.equal(start.res.status, 200);
  return finishSignIn(browser, start, username, password);
}

/** Submits the provider's password form of a sign-in started with `browser.follow(...)`. */
export async function finishSignIn(
  browser: Browser,
  start: { res: Response; url: string },
  username: string,
  password: string,
) {
  const form = parseForm(await start.res.text(), '/sign-in');
  return browser.submit(new URL(form.action, start.url).href, {
    ...form.fields,
    username,
    password,
  });
}

/** The sign-out form of the app's sign-out page (`GET /api/logto/sign-out`). */
export async function signOutForm(browser: Browser, url: string) {
  const page = await browser.fetch(`${url}/api/logto/sign-out`);
  assert.equal(page.status, 200);
  return parseForm(await page.text(), '/api/logto/sign-out');
}

/** Posts the sign-out form (same-origin) without following the redirect. */
export async function postSignOut(browser: Browser, url: string, fields: Record<string, string>) {
  return browser.fetch(`${url}/api/logto/sign-out`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...SAME_ORIGIN },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Completes the provider's self-submitting logout form after a sign-out's redirect. */
export async function endProviderSession(browser: Browser, location: string) {
  const { res, url: at } = await browser.follow(location);
  const form = parseForm(await res.text(), '/session/end/confirm');
  return browser.submit(new URL(form.action, at).href, form.fields);
}

/**
 * The provider's JWKS as the engine fetches it: forwarded while `up`, 503 otherwise. A stand-in
 * only for the fault; the keys are the real provider's.
 */
export async function jwksSwitch() {
  const state = { up: false, issuer: '', url: '', server: undefined as unknown as Server };
  const forward = async () => {
    const discovery = (await (
      await fetch(`${state.issuer}/.well-known/openid-configuration`)
    ).json()) as { jwks_uri: string };
    return fetch(discovery.jwks_uri);
  };
  state.server = createServer((req, res) => {
    req.resume();
    if (!state.up) {
      res.statusCode = 503;
      res.end();
      return;
    }
    forward().then(
      async (answer) => {
        res.statusCode = answer.status;
        res.setHeader('content-type', 'application/json');
        res.end(Buffer.from(await answer.arrayBuffer()));
      },
      () => {
        res.statusCode = 502;
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/jwks`;
  return state;
}

/**
 * A fixture whose engine fetches the provider's keys through a {@link jwksSwitch} (down until a
 * test sets `jwks.up`), started before the file's tests and closed after them.
 */
export function withSwitchableKeys<F extends { close(): Promise<void> }>(
  start: (engineOptions: EngineOptions) => Promise<F>,
): { readonly f: F; readonly jwks: Awaited<ReturnType<typeof jwksSwitch>> } {
  const state = {} as { f: F; jwks: Awaited<ReturnType<typeof jwksSwitch>> };
  before(async () => {
    state.jwks = await jwksSwitch();
    state.f = await start((idp) => {
      state.jwks.issuer = idp.issuer;
      return { accessTokens: { issuer: idp.issuer, audience: RESOURCE, jwksUri: state.jwks.url } };
    });
  });
  after(async () => {
    await state.f?.close();
    if (state.jwks) await new Promise((resolve) => state.jwks.server.close(resolve));
  });
  return state;
}
