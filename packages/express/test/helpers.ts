import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createGuestmode, type Guestmode, toErrorResponse } from '@guestmode/core';
import { openPostgresStorage } from '@guestmode/core/postgres';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { createIdp, type Idp } from '@guestmode/idp';
import { Browser, closeServer, listen, parseForm } from '@guestmode/testkit';
import { handleAuthRoutes, type LogtoExpressConfig, withLogto } from '@logto/express';
import cookieParser from 'cookie-parser';
import express, { type ErrorRequestHandler, type Express } from 'express';
import session from 'express-session';
import {
  type GuestmodeAuthRoutesOptions,
  guestmode,
  guestmodeMetrics,
  handleGuestmodeAuthRoutes,
} from '../src/index.js';

export { Browser, parseForm };

export const RESOURCE = 'https://api.test.local';
/** Opens the fixture's `/metrics`. */
export const METRICS_TOKEN = 'metrics-token-for-tests';

export interface Fixture {
  idp: Idp;
  engine: Guestmode;
  url: string;
  server: Server;
  users: { alice: string; bob: string };
  close(): Promise<void>;
}

/**
 * The local provider, and an Express 5 app wired as the docs say: cookie-parser,
 * express-session, our routes, `@logto/express`'s routes, `withLogto`, `guestmode()`.
 */
export async function startFixture(
  routes: Partial<Omit<GuestmodeAuthRoutesOptions, 'guestmode' | 'logto'>> = {},
  options: {
    /** The engine to use instead of one on in-memory SQLite (the fixture closes it). */
    engine?: (idp: Idp) => Promise<Guestmode>;
    /** More routes of the app (after `guestmode()`, before the error handler). */
    routes?: (app: Express) => void;
  } = {},
): Promise<Fixture> {
  const idp = createIdp({
    endpoint: 'http://127.0.0.1',
    port: 0,
    database: ':memory:',
    env: {},
    warn: () => {},
  });
  await idp.listen();
  const engine = options.engine
    ? await options.engine(idp)
    : createGuestmode({
        storage: await openSqliteStorage({ database: ':memory:' }),
        mergeRules: { cart: 'sum-by-key', theme: 'user-wins' },
        accessTokens: { issuer: idp.issuer, audience: RESOURCE },
      });
  const server = createServer();
  const url = await listen(server);
  const { appId, appSecret } = await idp.createApplication({
    name: 'Test shop',
    redirectUris: [`${url}/logto/sign-in-callback`],
    postLogoutRedirectUris: [url],
  });
  await idp.createResource({ indicator: RESOURCE });
  const alice = (await idp.createUser({ username: 'alice', password: 'alice password 1' })).id;
  const bob = (await idp.createUser({ username: 'bob', password: 'bob password 12' })).id;
  const config: LogtoExpressConfig = {
    endpoint: idp.url,
    appId,
    appSecret,
    baseUrl: url,
    resources: [RESOURCE],
  };

  const app = express();
  app.use(cookieParser());
  app.use(session({ secret: 'test-session-secret', resave: false, saveUninitialized: false }));
  app.use(handleGuestmodeAuthRoutes({ guestmode: engine, logto: config, ...routes }));
  app.use(handleAuthRoutes(config));
  app.use(withLogto(config));
  app.use(guestmode({ guestmode: engine }));
  app.get('/', async (req, res) => {
    res.json({
      kind: req.guest.kind,
      id: req.guest.id ?? null,
      userId: req.guest.userId ?? null,
      attributes: await req.guest.all(),
      ...(req.guest.mergePending ? { mergePending: true } : {}),
      ...(req.guest.confirmUrl ? { confirmUrl: req.guest.confirmUrl } : {}),
    });
  });
  // Reads no attributes, so it answers while the database is down.
  app.get('/whoami', (req, res) => {
    res.json({ kind: req.guest.kind, mergePending: req.guest.mergePending });
  });
  app.post('/attributes/:name', express.json(), async (req, res) => {
    await req.guest.set(String(req.params.name), req.body.value);
    res.json({ kind: req.guest.kind, id: req.guest.id ?? null });
  });
  app.delete('/attributes/:name', async (req, res) => {
    res.json({ deleted: await req.guest.delete(String(req.params.name)) });
  });
  app.get('/export', async (req, res) => {
    res.json(await req.guest.exportData());
  });
  app.post('/erase', async (req, res) => {
    res.json({ erased: await req.guest.erase() });
  });
  app.get('/metrics', guestmodeMetrics({ guestmode: engine, token: METRICS_TOKEN }));
  app.get('/session-id', (req, res) => {
    res.json({ id: req.sessionID });
  });
  options.routes?.(app);
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const answer = toErrorResponse(error);
    res.status(answer.status).set(answer.headers).json(answer.body);
  };
  app.use(onError);
  server.on('request', app);

  return {
    idp,
    engine,
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

/** Reads the app's view of the current principal. */
export async function profile(browser: Browser, url: string) {
  const res = await browser.fetch(`${url}/`);
  assert.equal(res.status, 200);
  return (await res.json()) as {
    kind: string;
    id: string | null;
    userId: string | null;
    attributes: Record<string, unknown>;
    mergePending?: true;
    confirmUrl?: string;
  };
}

/** What a browser sends with a request from the app's own pages. */
export const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' } as const;

/** A write from the app's own page (the first one creates the guest). */
export async function setAttribute(browser: Browser, url: string, name: string, value: unknown) {
  const res = await browser.fetch(`${url}/attributes/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...SAME_ORIGIN },
    body: JSON.stringify({ value }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { kind: string; id: string | null };
}

/** Starts a sign-in from the app's own page (`site` says otherwise) and follows to the provider. */
export function startSignIn(browser: Browser, url: string, site = 'same-origin') {
  return browser.follow(`${url}/logto/sign-in`, { headers: { 'sec-fetch-site': site } });
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

/** The sign-out form of the app's sign-out page (`GET /logto/sign-out`). */
export async function signOutForm(browser: Browser, url: string) {
  const page = await browser.fetch(`${url}/logto/sign-out`);
  assert.equal(page.status, 200);
  return parseForm(await page.text(), '/logto/sign-out');
}

/** Signs out with the app's form and completes the provider's self-submitting logout form. */
export async function signOut(browser: Browser, url: string) {
  const signOut = await signOutForm(browser, url);
  const { res, url: at } = await browser.submit(`${url}${signOut.action}`, signOut.fields, {
    ...SAME_ORIGIN,
  });
  const form = parseForm(await res.text(), '/session/end/confirm');
  return browser.submit(new URL(form.action, at).href, form.fields);
}

/**
 * The engine of the tests that restart PostgreSQL under a sign-in: the database at `url`, carts
 * summed and the user's theme kept in a merge, access tokens for {@link RESOURCE}.
 */
export function postgresEngine(url: string): (idp: Idp) => Promise<Guestmode> {
  return async (idp) =>
    createGuestmode({
      storage: await openPostgresStorage({ database: url }),
      mergeRules: { cart: 'sum-by-key', theme: 'user-wins' },
      accessTokens: { issuer: idp.issuer, audience: RESOURCE },
    });
}
