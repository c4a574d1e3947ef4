import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Guestmode,
  isGuestmodeError,
  type MergePreview,
  type MergeResult,
} from '@guestmode/core';
import {
  applyMergeDecision,
  checkCookieName,
  checkMergeDecision,
  checkMergeOptions,
  completeSignIn,
  guestCookieName as cookieName,
  DEFAULT_COOKIE_NAME,
  isAllowedOrigin,
  notifyMerge,
  PENDING_MERGE_TTL_MS,
  type PendingMergeReason,
  previewPendingMerge,
  renderConfirmPage,
  signInGuestId,
} from '@guestmode/core/web';
import type LogtoClient from '@logto/next';
import type { LogtoContext, LogtoNextConfig } from '@logto/next';
import type {
  GetServerSidePropsContext,
  GetServerSidePropsResult,
  NextApiHandler,
  NextApiRequest,
  NextApiResponse,
} from 'next';
import { appendCookie, readCookie, serializeCookie } from './cookies.js';
import { GuestmodeNextError } from './errors.js';
import { clearGuestCookie, createGuestAccessor, type GuestAccessor } from './guest.js';
import { createSealer } from './seal.js';
import type { GuestApiErrorBody, GuestProfile } from './types.js';

const START_TTL_MS = 30 * 60_000;

/** A request as Next gives it to API routes and `getServerSideProps` (cookies parsed). */
export type NextRequestLike = IncomingMessage & { cookies: Partial<Record<string, string>> };

export type { PendingMergeReason };

/** A merge waiting for the user, as a confirm page shows it (JSON-serialisable props). */
export interface PendingMerge {
  readonly reason: PendingMergeReason;
  /** What the merge would do (before/after of each of the guest's attributes, conflicts). */
  readonly preview: MergePreview;
  /** Where the confirm form posts (`application/x-www-form-urlencoded`). */
  readonly action: string;
  /** The hidden `csrf` field to post with `decision` (`merge` or `discard`). */
  readonly csrfToken: string;
}

/** Passed to `onMerge` after every merge the routes perform. */
export interface MergeEvent {
  readonly req: IncomingMessage;
  readonly result: MergeResult;
  readonly replayed: boolean;
  /** `callback` for the automatic merge, `confirm` after the user accepted. */
  readonly via: 'callback' | 'confirm';
}

export interface GuestmodeNextOptions {
  /**
   * The engine from `createGuestmode(...)`, configured with `accessTokens` for the resource, or a
   * promise of it (Next route modules are synchronous while opening storage is not).
   */
  readonly guestmode: Guestmode | Promise<Guestmode>;
  /** The `LogtoClient` from `@logto/next` whose `handleAuthRoutes()` serves `/api/logto/*`. */
  readonly logtoClient: LogtoClient;
  /** The same configuration given to that `LogtoClient` (`baseUrl`, `resources`, `cookieSecret`). */
  readonly logto: LogtoNextConfig;
  /**
   * The API resource whose access token proves the user at merge time (its `sub` is the user
   * id). Must be listed in `logto.resources`. Default: the first of `logto.resources`.
   */
  readonly resource?: string;
  /**
   * `never` (default): the browser's own guest is always merged in the callback.
   * `on-conflict`: when the preview reports conflicts, the user is sent to the confirm page.
   * A guest the browser did not have when the sign-in started is never merged without asking.
   */
  readonly confirm?: 'never' | 'on-conflict';
  /** Where the guest API route is mounted (`pages/api/guestmode/[...path].ts`). Default `/api/guestmode`. */
  readonly apiPath?: string;
  /**
   * The app's confirm page (a page using {@link GuestmodeNext.getPendingMerge}). Default: the
   * built-in page at `<apiPath>/confirm`.
   */
  readonly confirmPath?: string;
  /** Where users land after sign-in or a merge decision. Default `logto.baseUrl`. */
  readonly redirectTo?: string;
  /** Base name of the guest cookie (default `guestmode`; `__Host-guestmode` over HTTPS). */
  readonly cookieName?: string;
  /**
   * Key for the signed sign-in and pending-merge cookies, at least 32 characters. Default
   * `logto.cookieSecret`.
   */
  readonly secret?: string;
  /** Called after each merge (metrics, audit log). Errors it throws are ignored. */
  readonly onMerge?: (event: MergeEvent) => void | Promise<void>;
}

/** What the guest-aware wrappers add to API handlers and `getServerSideProps`. */
export interface GuestContext {
  readonly guest: GuestAccessor;
  /** `@logto/next`'s context for this request (`isAuthenticated`, `claims`). */
  readonly user: LogtoContext;
}

/** An API request inside {@link GuestmodeNext.withGuest}. */
export type GuestApiRequest = NextApiRequest & GuestContext;

/** The helpers returned by {@link createGuestmodeNext}. */
export interface GuestmodeNext {
  /**
   * Wraps `logtoClient.handleAuthRoutes()` (`pages/api/logto/[action].ts`) so that sign-in
   * remembers the browser's guest, the callback merges it, and sign-out deletes the guest
   * cookie. `/api/logto/user` and anything else go to `@logto/next` unchanged.
   */
  handleAuthRoutes(inner?: NextApiHandler): NextApiHandler;
  /**
   * The guest API for `pages/api/guestmode/[...path].ts`: `GET profile`,
   * `PUT attributes/<name>` (JSON body: the value), `DELETE attributes/<name>`, the confirm
   * form's `POST merge`, and the built-in `GET confirm` page.
   */
  handleGuestRoutes(): NextApiHandler;
  /** An API route handler receiving `req.guest` and `req.user`. */
  withGuest<T = unknown>(
    handler: (req: GuestApiRequest, res: NextApiResponse<T>) => unknown,
  ): NextApiHandler<T>;
  /** A `getServerSideProps` receiving `guest` and `user` (also set on `context.req`). */
  withGuestSsr<P extends Record<string, unknown> = Record<string, unknown>>(
    handler: (
      context: GetServerSidePropsContext & GuestContext,
    ) => GetServerSidePropsResult<P> | Promise<GetServerSidePropsResult<P>>,
  ): (context: GetServerSidePropsContext) => Promise<GetServerSidePropsResult<P>>;
  /** The guest accessor for any request (once per request; later calls return the same one). */
  getGuest(req: NextRequestLike, res: ServerResponse): Promise<GuestAccessor>;
  /** `@logto/next`'s context for the request (once per request). */
  getUser(req: NextRequestLike, res: ServerResponse): Promise<LogtoContext>;
  /** The merge waiting for this browser's decision, for the app's own confirm page. */
  getPendingMerge(req: NextRequestLike, res: ServerResponse): Promise<PendingMerge | undefined>;
}

interface StartRecord {
  /** The guest id of the cookie when this sign-in started, or `null`. */
  readonly g: string | null;
  /** The OAuth `state` of this sign-in: ties the record to one sign-in transaction. */
  readonly s: string;
}

interface PendingRecord {
  readonly g: string;
  readonly u: string;
  readonly c: string;
  readonly r: PendingMergeReason;
}

function pathOption(value: unknown, option: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) {
    throw new TypeError(`${option} must be a path starting with a single "/"`);
  }
  return value.replace(/\/+$/, '') || '/';
}

function redirect(res: ServerResponse, location: string, status = 302): void {
  res.statusCode = status;
  res.setHeader('Location', location);
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const known =
    error instanceof GuestmodeNextError || isGuestmodeError(error)
      ? (error as { code: string; status: number; message: string })
      : undefined;
  if (known && known.status < 500) {
    sendJson(res, known.status, {
      error: { code: known.code, message: known.message },
    } satisfies GuestApiErrorBody);
    return;
  }
  if (known) {
    sendJson(res, known.status, {
      error: { code: known.code, message: 'Please try again later.' },
    } satisfies GuestApiErrorBody);
    return;
  }
  const name = (error as { name?: unknown } | null)?.name;
  if (typeof name === 'string' && /^(Logto|Oidc)/.test(name)) {
    // The SDK refused the callback (state or PKCE mismatch, expired sign-in): a client error.
    sendJson(res, 400, {
      error: { code: 'sign_in_failed', message: 'Signing in failed; please try again.' },
    } satisfies GuestApiErrorBody);
    return;
  }
  console.error(error);
  sendJson(res, 500, {
    error: { code: 'server_error', message: 'Something went wrong.' },
  } satisfies GuestApiErrorBody);
}

/** Reads `application/x-www-form-urlencoded` fields (Next's body parser has usually done it). */
async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw new GuestmodeNextError('invalid_request', 'Expected a form post.');
  }
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed && typeof parsed === 'object' && !Buffer.isBuffer(parsed)) {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed)) {
      if (typeof value === 'string') out[key] = value;
    }
    return out;
  }
  if (typeof parsed === 'string') return Object.fromEntries(new URLSearchParams(parsed));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 8 * 1024) throw new GuestmodeNextError('invalid_request', 'Form too large.');
    chunks.push(chunk);
  }
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

/** The JSON value of a PUT (Next's body parser has usually parsed it). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    // Also a CSRF defence: a cross-site HTML form cannot send application/json.
    throw new GuestmodeNextError('invalid_request', 'Send the value as application/json.');
  }
  // Next's body parser has parsed it (a JSON string body arrives as a string); with
  // `bodyParser: false` the stream is still unread.
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed !== undefined) return parsed;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 1024 * 1024) throw new GuestmodeNextError('invalid_request', 'Body too large.');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new GuestmodeNextError('invalid_request', 'The body is not valid JSON.', {
      cause: error,
    });
  }
}

/**
 * Guest mode for a Next.js (Pages Router) app using `@logto/next`: the guest of every request,
 * the guest API `useGuest()` talks to, and the automatic merge at sign-in. Options are checked
 * here, once; errors name the option.
 *
 * @example
 * ```ts
 * // lib/guestmode.ts
 * export const logtoConfig = { endpoint, appId, appSecret, baseUrl, cookieSecret,
 *   cookieSecure: false, resources: ['https://api.bookstore.local'] };
 * export const logtoClient = new LogtoClient(logtoConfig);
 * export const guestmode = createGuestmodeNext({ guestmode: engine, logtoClient, logto: logtoConfig });
 * // pages/api/logto/[action].ts
 * export default guestmode.handleAuthRoutes(logtoClient.handleAuthRoutes());
 * // pages/api/guestmode/[...path].ts
 * export default guestmode.handleGuestRoutes();
 * ```
 */
export function createGuestmodeNext(options: GuestmodeNextOptions): GuestmodeNext {
  if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
  const given = options.guestmode;
  const isEngine = (value: unknown): value is Guestmode =>
    typeof (value as Guestmode | null)?.merge === 'function';
  if (!isEngine(given) && typeof (given as Promise<unknown> | null)?.then !== 'function') {
    throw new TypeError(
      'options.guestmode must be the engine from createGuestmode() or a promise of it',
    );
  }
  const engineReady: Promise<Guestmode> = Promise.resolve(given).then((value) => {
    if (!isEngine(value)) {
      throw new TypeError('options.guestmode must resolve to the engine from createGuestmode()');
    }
    return value;
  });
  // An engine that failed to open fails every request that needs it, not the process.
  engineReady.catch(() => {});
  const logtoClient = options.logtoClient;
  if (!logtoClient || typeof logtoClient.createNodeClientFromNextApi !== 'function') {
    throw new TypeError('options.logtoClient must be a LogtoClient from @logto/next');
  }
  const logto = options.logto;
  if (!logto || typeof logto !== 'object' || typeof logto.baseUrl !== 'string') {
    throw new TypeError('options.logto must be the LogtoNextConfig given to the LogtoClient');
  }
  let base: URL;
  try {
    base = new URL(logto.baseUrl);
  } catch {
    throw new TypeError('options.logto.baseUrl must be an absolute URL');
  }
  const baseUrl = logto.baseUrl.replace(/\/+$/, '');
  const secure = base.protocol === 'https:';
  const { resource, confirm } = checkMergeOptions({
    resource: options.resource,
    resources: logto.resources,
    confirm: options.confirm,
  });
  const apiPath = pathOption(options.apiPath, 'options.apiPath', '/api/guestmode');
  const builtInConfirmPage = options.confirmPath === undefined;
  const confirmPath = pathOption(options.confirmPath, 'options.confirmPath', `${apiPath}/confirm`);
  const mergePath = `${apiPath}/merge`;
  const redirectTo = options.redirectTo ?? baseUrl;
  if (typeof redirectTo !== 'string' || redirectTo.length === 0) {
    throw new TypeError('options.redirectTo must be a URL or path');
  }
  const cookieBase =
    options.cookieName === undefined
      ? DEFAULT_COOKIE_NAME
      : checkCookieName(options.cookieName, 'options.cookieName');
  const secret = options.secret ?? logto.cookieSecret;
  if (typeof secret !== 'string' || secret.length < 32) {
    throw new TypeError(
      'options.secret (default: options.logto.cookieSecret) must be at least 32 characters',
    );
  }
  if (options.onMerge !== undefined && typeof options.onMerge !== 'function') {
    throw new TypeError('options.onMerge must be a function');
  }
  const sealer = createSealer(secret);
  const guestCookieName = cookieName(cookieBase, secure);
  const startCookie = cookieName(`${cookieBase}-signin`, secure);
  const pendingCookie = cookieName(`${cookieBase}-pending`, secure);

  const users = new WeakMap<IncomingMessage, Promise<LogtoContext>>();
  const guests = new WeakMap<IncomingMessage, Promise<GuestAccessor>>();

  const setSealed = (res: ServerResponse, name: string, purpose: string, value: unknown) => {
    const ttl = purpose === 'start' ? START_TTL_MS : PENDING_MERGE_TTL_MS;
    const expires = Date.now() + ttl;
    appendCookie(
      res,
      serializeCookie(name, sealer.seal(purpose, value, expires), {
        secure,
        expires: new Date(expires),
      }),
    );
  };
  const clearCookie = (res: ServerResponse, name: string) =>
    appendCookie(res, serializeCookie(name, '', { secure, expires: new Date(0) }));

  const getUser = (req: NextRequestLike, res: ServerResponse): Promise<LogtoContext> => {
    let user = users.get(req);
    if (!user) {
      user = logtoClient
        .createNodeClientFromNextApi(req, res)
        .then((client) => client.getContext());
      users.set(req, user);
    }
    return user;
  };

  const getGuest = (req: NextRequestLike, res: ServerResponse): Promise<GuestAccessor> => {
    let guest = guests.get(req);
    if (!guest) {
      guest = Promise.all([getUser(req, res), engineReady]).then(([user, engine]) => {
        const sub = user.isAuthenticated ? user.claims?.sub : undefined;
        const userId = typeof sub === 'string' && sub.length > 0 ? sub : undefined;
        return createGuestAccessor(
          { engine, req, res, cookieBase, secure, userId },
          readCookie(req, guestCookieName),
        );
      });
      guests.set(req, guest);
    }
    return guest;
  };

  const checkOrigin = (req: IncomingMessage) => {
    const origin = req.headers.origin;
    if (!isAllowedOrigin(origin, base.origin)) {
      throw new GuestmodeNextError('csrf_failed', 'Cross-origin requests are refused.');
    }
  };

  /**
   * Sign-in start: after `@logto/next` has made the authorization request, record which guest
   * this browser holds, tied to that request's `state` (a record planted from another sign-in
   * cannot match the callback).
   */
  const signIn = async (req: NextApiRequest, res: NextApiResponse, inner: NextApiHandler) => {
    const guestId = signInGuestId(readCookie(req, guestCookieName));
    clearCookie(res, pendingCookie);
    const original = res.redirect.bind(res) as (a: number | string, b?: string) => unknown;
    res.redirect = ((a: number | string, b?: string) => {
      const location = typeof a === 'string' ? a : b;
      let state: string | null = null;
      try {
        state = location === undefined ? null : new URL(location).searchParams.get('state');
      } catch {
        // Not an absolute URL: not the provider's authorization endpoint.
      }
      if (state)
        setSealed(res, startCookie, 'start', { g: guestId, s: state } satisfies StartRecord);
      return original(a, b);
    }) as NextApiResponse['redirect'];
    await inner(req, res);
  };

  const callback = async (req: NextApiRequest, res: NextApiResponse) => {
    const client = await logtoClient.createNodeClientFromNextApi(req, res);
    const callbackUrl = `${baseUrl}${req.url ?? ''}`;
    await client.handleSignInCallback(callbackUrl);
    const accessToken = await client.getAccessToken(resource);
    const { userId } = await (await engineReady).verifyAccessToken(accessToken);
    const idClaims = await client.getIdTokenClaims();
    if (idClaims.sub !== userId) {
      throw new GuestmodeNextError(
        'user_mismatch',
        'The access token and the ID token name different users.',
      );
    }
    // Every cookie below is appended after @logto/next wrote its session cookie (and survives
    // any later rewrite of it: see appendCookie).
    const state = new URL(callbackUrl).searchParams.get('state');
    const started = sealer.unseal<StartRecord>('start', readCookie(req, startCookie), Date.now());
    clearCookie(res, startCookie);
    clearCookie(res, pendingCookie);

    const outcome = await completeSignIn({
      engine: await engineReady,
      guestToken: readCookie(req, guestCookieName),
      userId,
      startedGuestId: started && state !== null && started.s === state ? started.g : undefined,
      confirm,
    });
    if (outcome.action === 'merged') {
      const { result, replayed } = outcome;
      await notifyMerge(options.onMerge, { req, result, replayed, via: 'callback' });
    }
    if (outcome.clearCookie) clearGuestCookie(req, res, cookieBase, secure);
    if (outcome.action !== 'confirm') return redirect(res, redirectTo);
    const { guestId, userId: u, csrf, reason } = outcome.pending;
    setSealed(res, pendingCookie, 'pending', {
      g: guestId,
      u,
      c: csrf,
      r: reason,
    } satisfies PendingRecord);
    return redirect(res, confirmPath);
  };

  const signOut = async (req: NextApiRequest, res: NextApiResponse, inner: NextApiHandler) => {
    // Set first: appendCookie keeps them when @logto/next replaces Set-Cookie afterwards.
    clearGuestCookie(req, res, cookieBase, secure);
    clearCookie(res, startCookie);
    clearCookie(res, pendingCookie);
    await inner(req, res);
  };

  const readPending = (req: NextRequestLike) =>
    sealer.unseal<PendingRecord>('pending', readCookie(req, pendingCookie), Date.now());

  const getPendingMerge = async (
    req: NextRequestLike,
    res: ServerResponse,
  ): Promise<PendingMerge | undefined> => {
    const pending = readPending(req);
    if (!pending) return undefined;
    const user = await getUser(req, res);
    if (!user.isAuthenticated || user.claims?.sub !== pending.u) return undefined;
    const preview = await previewPendingMerge({
      engine: await engineReady,
      pending: { guestId: pending.g, userId: pending.u },
      guestToken: readCookie(req, guestCookieName),
    });
    if (!preview) return undefined;
    // A JSON copy: getServerSideProps props must not contain `undefined`.
    return JSON.parse(
      JSON.stringify({ reason: pending.r, preview, action: mergePath, csrfToken: pending.c }),
    ) as PendingMerge;
  };

  const decide = async (req: NextApiRequest, res: NextApiResponse) => {
    checkOrigin(req);
    const form = await readForm(req);
    const pending = readPending(req);
    if (!pending) {
      clearCookie(res, pendingCookie);
      return redirect(res, redirectTo, 303);
    }
    const check = checkMergeDecision({ csrf: pending.c }, form);
    if (!check.ok) throw new GuestmodeNextError(check.code, check.message);
    // The merge goes to whoever this browser is signed in as now, and only if that is still the
    // user the callback verified.
    const user = await getUser(req, res);
    if (!user.isAuthenticated) {
      throw new GuestmodeNextError('not_signed_in', 'Sign in to merge your guest data.');
    }
    if (user.claims?.sub !== pending.u) {
      throw new GuestmodeNextError('user_mismatch', 'You are signed in as someone else.');
    }
    clearCookie(res, pendingCookie);
    const outcome = await applyMergeDecision({
      engine: await engineReady,
      pending: { guestId: pending.g, userId: pending.u },
      guestToken: readCookie(req, guestCookieName),
      decision: check.decision,
    });
    if (outcome.action === 'merged') {
      const { result, replayed } = outcome;
      await notifyMerge(options.onMerge, { req, result, replayed, via: 'confirm' });
    }
    if (outcome.clearCookie) clearGuestCookie(req, res, cookieBase, secure);
    return redirect(res, redirectTo, 303);
  };

  const confirmPage = async (req: NextApiRequest, res: NextApiResponse) => {
    const pending = await getPendingMerge(req, res);
    if (!pending) return redirect(res, redirectTo);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(renderConfirmPage(pending));
  };

  const guestApi = async (req: NextApiRequest, res: NextApiResponse) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    const rest = pathname.startsWith(`${apiPath}/`) ? pathname.slice(apiPath.length + 1) : '';
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const allow = (methods: string) => {
      if (!methods.split(',').includes(method)) {
        res.setHeader('Allow', methods);
        throw new GuestmodeNextError('method_not_allowed', `Use ${methods}.`);
      }
    };
    if (rest === 'profile') {
      allow('GET');
      const guest = await getGuest(req, res);
      return sendJson(res, 200, await guest.profile());
    }
    if (rest.startsWith('attributes/')) {
      allow('PUT,DELETE');
      checkOrigin(req);
      let name: string;
      try {
        name = decodeURIComponent(rest.slice('attributes/'.length));
      } catch {
        throw new GuestmodeNextError('invalid_request', 'Malformed attribute name.');
      }
      const guest = await getGuest(req, res);
      if (method === 'PUT') await guest.set(name, await readJson(req));
      else await guest.delete(name);
      return sendJson(res, 200, await guest.profile());
    }
    if (rest === 'merge') {
      allow('POST');
      return decide(req, res);
    }
    if (rest === 'confirm' && builtInConfirmPage) {
      allow('GET');
      return confirmPage(req, res);
    }
    throw new GuestmodeNextError('not_found', 'No such guest route.');
  };

  const safely =
    <T>(handler: (req: NextApiRequest, res: NextApiResponse<T>) => unknown): NextApiHandler<T> =>
    async (req, res) => {
      try {
        await handler(req, res);
      } catch (error) {
        sendError(res, error);
      }
    };

  return {
    handleAuthRoutes(inner = logtoClient.handleAuthRoutes()) {
      if (typeof inner !== 'function') {
        throw new TypeError('handleAuthRoutes(inner) needs logtoClient.handleAuthRoutes()');
      }
      return safely(async (req, res) => {
        const action = req.query.action;
        if (action === 'sign-in' || action === 'sign-up') return signIn(req, res, inner);
        if (action === 'sign-in-callback') return callback(req, res);
        if (action === 'sign-out') return signOut(req, res, inner);
        return inner(req, res);
      });
    },
    handleGuestRoutes() {
      return safely(guestApi);
    },
    withGuest(handler) {
      return safely(async (req, res) => {
        const guest = await getGuest(req, res);
        const user = await getUser(req, res);
        Object.assign(req, { guest, user });
        return handler(req as GuestApiRequest, res);
      });
    },
    withGuestSsr(handler) {
      return async (context) => {
        const guest = await getGuest(context.req, context.res);
        const user = await getUser(context.req, context.res);
        Object.assign(context.req, { guest, user });
        return handler({ ...context, guest, user });
      };
    },
    getGuest,
    getUser,
    getPendingMerge,
  };
}

export type { GuestProfile };
