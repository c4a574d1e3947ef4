import { randomBytes } from 'node:crypto';
import { type Guestmode, toErrorResponse } from '@guestmode/core';
import {
  checkEngineOption,
  checkSignInOptions,
  createSignInFlow,
  guestCookieJar,
  logtoCallbackCalls,
  type MergeNotice,
  nodeCookieJar,
  nodeRequestFacts,
  type PendingMerge,
  type PendingMergeReason,
  pathOption,
  readForm,
  type SignInFlow,
  type SignInOptions,
  type SignInPort,
  type SignInSettings,
  sessionRecords,
  signedInUserId,
  signInRoutes,
} from '@guestmode/core/web';
import type { LogtoExpressConfig } from '@logto/express';
import LogtoClient from '@logto/node';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { regenerateSession, SessionStorage, sessionOf } from './internal.js';

/** The session key of the sign-out CSRF token (beside Logto's own keys and the flow's records). */
const CSRF_KEY = 'guestmode:csrf';

export type { PendingMerge, PendingMergeReason };

/** Passed to `onMerge` after every merge the routes perform. */
export interface MergeEvent extends MergeNotice {
  readonly req: Request;
}

/** `confirmPath` is served by the app (see {@link getPendingMerge}); default `/guestmode/confirm`. */
export interface GuestmodeAuthRoutesOptions extends SignInOptions<MergeEvent> {
  /** The engine from `createGuestmode(...)`, configured with `accessTokens` for the resource. */
  readonly guestmode: Guestmode;
  /**
   * The same configuration given to `withLogto`. Its `baseUrl` is the app's public URL: its
   * origin decides which requests are same-origin, its scheme whether cookies are `Secure`.
   */
  readonly logto: LogtoExpressConfig;
  /** Where the confirm form posts. Default `/guestmode/merge`. */
  readonly mergePath?: string;
}

/** What the routes leave on each request for `guestmode()`, `getPendingMerge` and `getCsrfToken`. */
export interface RoutesState {
  readonly settings: SignInSettings;
  readonly flow: SignInFlow<ExpressPort>;
  port(req: Request, res: Response): ExpressPort;
}

type ExpressPort = SignInPort & { readonly req: Request };

const STATE = Symbol.for('@guestmode/express.routes');

/** The routes' state on a request, or `undefined` when they are not mounted before. */
export function routesState(req: Request): RoutesState | undefined {
  return (req as Request & { [STATE]?: RoutesState })[STATE];
}

function requireState(req: Request, caller: string): RoutesState {
  const state = routesState(req);
  if (!state) throw new TypeError(`${caller} needs handleGuestmodeAuthRoutes() mounted before it`);
  return state;
}

/**
 * The merge waiting for this browser's decision, or `undefined`. For the app's own confirm page
 * (see `confirmPath`); needs {@link handleGuestmodeAuthRoutes} mounted before the page's route.
 *
 * @example
 * ```ts
 * app.get('/merge', async (req, res) => {
 *   const pending = await getPendingMerge(req);
 *   if (!pending) return res.redirect('/');
 *   res.send(`<form method="post" action="${pending.action}">
 *     <input type="hidden" name="csrf" value="${pending.csrfToken}">
 *     <button name="decision" value="merge">Merge</button>
 *     <button name="decision" value="discard">Discard</button></form>`);
 * });
 * ```
 */
export function getPendingMerge(req: Request): Promise<PendingMerge | undefined> {
  const state = requireState(req, 'getPendingMerge');
  return state.flow.pendingMerge(state.port(req, req.res!));
}

/**
 * The CSRF token the app's sign-out form posts as `csrf` (also `res.locals.guestmodeCsrf`).
 *
 * @example
 * ```ts
 * `<form method="post" action="/logto/sign-out">
 *   <input type="hidden" name="csrf" value="${getCsrfToken(req)}"><button>Sign out</button></form>`
 * ```
 */
export function getCsrfToken(req: Request): string {
  const state = requireState(req, 'getCsrfToken');
  return state.port(req, req.res!).csrfToken(true)!;
}

function createPort(
  req: Request,
  res: Response,
  logto: LogtoExpressConfig,
  settings: SignInSettings,
  prefix: string,
): ExpressPort {
  const client = (navigate = (url: string) => res.redirect(url)) =>
    new LogtoClient(logto, { storage: new SessionStorage(req), navigate });
  return {
    req,
    ...nodeRequestFacts(req),
    ...guestCookieJar(nodeCookieJar(req, res, settings.secure), settings),
    ...sessionRecords(() => sessionOf(req)),
    csrfToken(create) {
      const session = sessionOf(req);
      if (typeof session[CSRF_KEY] !== 'string' && create) {
        session[CSRF_KEY] = randomBytes(24).toString('base64url');
      }
      return session[CSRF_KEY] as string | undefined;
    },
    readForm: () => readForm(req),
    async userId() {
      const logtoClient = client();
      if (!(await logtoClient.isAuthenticated())) return undefined;
      return signedInUserId({
        isAuthenticated: true,
        claims: await logtoClient.getIdTokenClaims(),
      });
    },
    handleSignIn: (signUp) =>
      client().signIn({
        ...logto.signInOptions,
        redirectUri: `${settings.baseUrl}${prefix}/sign-in-callback`,
        ...(signUp ? { firstScreen: 'register' as const } : {}),
      }),
    ...logtoCallbackCalls(
      () => client(() => {}),
      () => `${settings.baseUrl}${req.originalUrl}`,
    ),
    async signOut() {
      let target = settings.baseUrl;
      await client((url) => {
        target = url;
      }).signOut(settings.baseUrl);
      await regenerateSession(req, false);
      res.redirect(303, target);
    },
    renewSession: () => regenerateSession(req, true),
    redirect: (location, status) => res.redirect(status, location),
    html: (status, body) => {
      res.status(status).type('html').send(body);
    },
  };
}

/**
 * Routes that make sign-in and sign-out guest-aware, mounted BEFORE `@logto/express`'s
 * `handleAuthRoutes` (or instead of it: they answer every `/logto/*` route but the unknown ones):
 *
 * - `/logto/sign-in`, `/logto/sign-up`: record which guest this browser started the sign-in
 *   with, and whether the start came from the app's own pages, then redirect to the provider.
 * - `GET /logto/sign-in-callback`: completes the sign-in (same session layout as
 *   `@logto/express`, so `withLogto` sees the user), verifies an access token for `resource`,
 *   and merges the browser's guest into the user, or sends the user to the confirm page.
 * - `POST /guestmode/merge`: the confirm page's decision (same-origin, CSRF token).
 * - `POST /logto/sign-out` (same-origin, CSRF token `csrf`, see {@link getCsrfToken}): signs out
 *   with Logto, deletes the guest cookie and replaces the session. `GET` answers a page with a
 *   sign-out button and changes nothing.
 *
 * Every answer says `Cache-Control: no-store`; refusals go to the app's error handler as
 * `GuestmodeError`s (their `status` and `code` come from core's one error map).
 *
 * @example
 * ```ts
 * app.use(handleGuestmodeAuthRoutes({ guestmode: engine, logto: config, confirm: 'on-conflict' }));
 * app.use(withLogto(config));
 * ```
 */
export function handleGuestmodeAuthRoutes(options: GuestmodeAuthRoutesOptions): RequestHandler {
  const engine = checkEngineOption(options);
  const settings = checkSignInOptions(options);
  const logto = options.logto;
  const confirmPath = settings.confirmPath ?? '/guestmode/confirm';
  const mergePath = pathOption(options.mergePath, 'options.mergePath', '/guestmode/merge');
  const prefix = `/${logto.authRoutesPrefix ?? 'logto'}`;
  const onMerge = options.onMerge;
  const flow = createSignInFlow<ExpressPort>({
    ...settings,
    engine,
    confirmPath,
    mergePath,
    signOutPath: `${prefix}/sign-out`,
    onMerge: onMerge && ((port, merge) => onMerge({ req: port.req, ...merge })),
  });
  const state: RoutesState = {
    settings,
    flow,
    port: (req, res) => createPort(req, res, logto, settings, prefix),
  };
  const builtInConfirm = settings.confirmPath === undefined ? confirmPath : undefined;
  const routes = signInRoutes(prefix, mergePath, builtInConfirm);

  return (req: Request, res: Response, next: NextFunction) => {
    (req as Request & { [STATE]?: RoutesState })[STATE] = state;
    Object.defineProperty(res.locals, 'guestmodeCsrf', {
      configurable: true,
      enumerable: true,
      get: () => getCsrfToken(req),
    });
    const route = routes.get(req.path);
    if (!route) {
      next();
      return;
    }
    res.set('Cache-Control', 'no-store');
    // Express 4 does not catch rejected promises: route every failure to next().
    Promise.resolve()
      .then(() => flow.handle(state.port(req, res), route))
      .catch((error: unknown) => {
        if (!res.headersSent) res.set(toErrorResponse(error).headers);
        next(error);
      });
  };
}
