import type { Guestmode, MergePreview, MergeResult } from '@guestmode/core';
import {
  applyMergeDecision,
  checkCookieName,
  checkMergeDecision,
  checkMergeOptions,
  completeSignIn,
  DEFAULT_COOKIE_NAME,
  isAllowedOrigin,
  notifyMerge,
  type PendingMergeReason,
  type PendingMergeRecord,
  previewPendingMerge,
  renderConfirmPage,
  signInGuestId,
} from '@guestmode/core/web';
import type { LogtoExpressConfig } from '@logto/express';
import LogtoClient from '@logto/node';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { GuestmodeExpressError } from './errors.js';
import {
  clearGuestCookie,
  readGuestToken,
  readSessionJson,
  sessionOf,
  writeSessionJson,
} from './internal.js';
import { SessionStorage } from './session-storage.js';

/** Session keys of this package (beside Logto's own keys). */
const START_KEY = 'guestmode:sign-in';
const PENDING_KEY = 'guestmode:pending';
const MAX_FORM_BYTES = 8 * 1024;

export type { PendingMergeReason };

interface StartRecord {
  readonly guestId: string | null;
}

/** A merge waiting for the user, as a confirm page shows it. */
export interface PendingMerge {
  readonly reason: PendingMergeReason;
  /** What the merge would do (before/after of each of the guest's attributes, conflicts). */
  readonly preview: MergePreview;
  /** Where the confirm form posts (`application/x-www-form-urlencoded`). */
  readonly action: string;
  /** Hidden form fields to post with the button: `csrf` plus `decision` (`merge` or `discard`). */
  readonly csrfToken: string;
}

/** Passed to `onMerge` after every merge the routes perform. */
export interface MergeEvent {
  readonly req: Request;
  readonly result: MergeResult;
  readonly replayed: boolean;
  /** `callback` for the automatic merge, `confirm` after the user accepted. */
  readonly via: 'callback' | 'confirm';
}

export interface GuestmodeAuthRoutesOptions {
  /** The engine from `createGuestmode(...)`, configured with `accessTokens` for the resource. */
  readonly guestmode: Guestmode;
  /** The same configuration given to `handleAuthRoutes` and `withLogto`. */
  readonly logto: LogtoExpressConfig;
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
  /**
   * The confirm page. When omitted, a minimal built-in page is served at `/guestmode/confirm`;
   * when given, the app serves it, using {@link getPendingMerge}.
   */
  readonly confirmPath?: string;
  /** Where the confirm form posts. Default `/guestmode/merge`. */
  readonly mergePath?: string;
  /** Where users land after sign-in, a merge decision or a skipped merge. Default `baseUrl`. */
  readonly redirectTo?: string;
  /** Same as the middleware's `cookieName`. */
  readonly cookieName?: string;
  /** Called after each merge (metrics, audit log). Errors it throws are ignored. */
  readonly onMerge?: (event: MergeEvent) => void | Promise<void>;
}

interface RoutesState {
  readonly engine: Guestmode;
  readonly cookieName: string;
  readonly mergePath: string;
}

const STATE = Symbol.for('@guestmode/express.routes');

function pathOption(value: unknown, option: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) {
    throw new TypeError(`${option} must be a path starting with a single "/"`);
  }
  return value;
}

function logtoClient(req: Request, config: LogtoExpressConfig, navigate = (_url: string) => {}) {
  return new LogtoClient(config, { storage: new SessionStorage(req), navigate });
}

/** Copies the session's data into a fresh session id, so an id planted before sign-in is void. */
async function regenerateSession(req: Request, keep: boolean): Promise<void> {
  const session = sessionOf(req) as Record<string, unknown> & {
    regenerate?: (callback: (error?: unknown) => void) => void;
  };
  if (typeof session.regenerate !== 'function') {
    if (!keep) for (const key of Object.keys(session)) if (key !== 'cookie') delete session[key];
    return;
  }
  const data: Record<string, unknown> = {};
  if (keep)
    for (const [key, value] of Object.entries(session)) if (key !== 'cookie') data[key] = value;
  await new Promise<void>((resolve, reject) =>
    session.regenerate!((error) => (error ? reject(error) : resolve())),
  );
  Object.assign(sessionOf(req), data);
}

async function readForm(req: Request): Promise<Record<string, string>> {
  const parsed = (req as Request & { body?: unknown }).body;
  if (parsed && typeof parsed === 'object' && !Buffer.isBuffer(parsed)) {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed))
      if (typeof value === 'string') out[key] = value;
    return out;
  }
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw new GuestmodeExpressError('invalid_request', 'Expected a form post.');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES)
      throw new GuestmodeExpressError('invalid_request', 'Form too large.');
    chunks.push(chunk);
  }
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
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
export async function getPendingMerge(req: Request): Promise<PendingMerge | undefined> {
  const state = (req as Request & { [STATE]?: RoutesState })[STATE];
  if (!state) {
    throw new TypeError('getPendingMerge needs handleGuestmodeAuthRoutes() mounted before it');
  }
  const pending = readSessionJson<PendingMergeRecord>(req, PENDING_KEY);
  if (!pending || pending.expiresAt <= Date.now()) return undefined;
  const guestToken = readGuestToken(req, state.cookieName);
  const preview = await previewPendingMerge({ engine: state.engine, pending, guestToken });
  if (!preview) return undefined;
  return { reason: pending.reason, preview, action: state.mergePath, csrfToken: pending.csrf };
}

/**
 * Routes that make sign-in and sign-out guest-aware, mounted BEFORE `@logto/express`'s
 * `handleAuthRoutes` with the same Logto configuration:
 *
 * - `/logto/sign-in`, `/logto/sign-up`: remember which guest this browser session started the
 *   sign-in with, then let `handleAuthRoutes` redirect to the provider.
 * - `GET /logto/sign-in-callback`: completes the sign-in (same session layout as
 *   `@logto/express`, so `withLogto` sees the user), verifies an access token for `resource`,
 *   and merges the browser's guest into the user before redirecting (automatic merge), or sends
 *   the user to the confirm page (conflicts, or a guest that did not start the sign-in).
 * - `POST /guestmode/merge`: the confirm page's decision (CSRF token and Origin checked).
 * - `GET /logto/sign-out`: signs out with Logto, deletes the guest cookie and replaces the
 *   session, so the next visit starts as a fresh guest.
 *
 * @example
 * ```ts
 * app.use(handleGuestmodeAuthRoutes({ guestmode: engine, logto: config, confirm: 'on-conflict' }));
 * app.use(handleAuthRoutes(config));
 * ```
 */
export function handleGuestmodeAuthRoutes(options: GuestmodeAuthRoutesOptions): RequestHandler {
  if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
  const engine = options.guestmode;
  if (!engine || typeof engine.merge !== 'function') {
    throw new TypeError('options.guestmode must be the engine from createGuestmode()');
  }
  const logto = options.logto;
  if (!logto || typeof logto !== 'object' || typeof logto.baseUrl !== 'string') {
    throw new TypeError('options.logto must be the LogtoExpressConfig given to handleAuthRoutes');
  }
  let baseUrl: URL;
  try {
    baseUrl = new URL(logto.baseUrl);
  } catch {
    throw new TypeError('options.logto.baseUrl must be an absolute URL');
  }
  const { resource, confirm } = checkMergeOptions({
    resource: options.resource,
    resources: logto.resources,
    confirm: options.confirm,
  });
  const builtInConfirmPage = options.confirmPath === undefined;
  const confirmPath = pathOption(options.confirmPath, 'options.confirmPath', '/guestmode/confirm');
  const mergePath = pathOption(options.mergePath, 'options.mergePath', '/guestmode/merge');
  const redirectTo = options.redirectTo ?? logto.baseUrl;
  if (typeof redirectTo !== 'string' || redirectTo.length === 0) {
    throw new TypeError('options.redirectTo must be a URL or path');
  }
  const cookieName =
    options.cookieName === undefined
      ? DEFAULT_COOKIE_NAME
      : checkCookieName(options.cookieName, 'options.cookieName');
  if (options.onMerge !== undefined && typeof options.onMerge !== 'function') {
    throw new TypeError('options.onMerge must be a function');
  }
  const prefix = `/${logto.authRoutesPrefix ?? 'logto'}`;
  const state: RoutesState = { engine, cookieName, mergePath };

  const startSignIn = (req: Request) => {
    const guestId = signInGuestId(readGuestToken(req, cookieName));
    writeSessionJson(req, START_KEY, { guestId } satisfies StartRecord);
    writeSessionJson(req, PENDING_KEY, undefined);
  };

  const callback = async (req: Request, res: Response) => {
    const client = logtoClient(req, logto);
    try {
      await client.handleSignInCallback(`${logto.baseUrl}${req.originalUrl}`);
    } catch (cause) {
      throw new GuestmodeExpressError(
        'sign_in_failed',
        'The sign-in could not be completed; please sign in again.',
        { cause },
      );
    }
    const accessToken = await client.getAccessToken(resource);
    const { userId } = await engine.verifyAccessToken(accessToken);
    const idClaims = await client.getIdTokenClaims();
    if (idClaims.sub !== userId) {
      throw new GuestmodeExpressError(
        'user_mismatch',
        'The access token and the ID token name different users.',
      );
    }
    const started = readSessionJson<StartRecord>(req, START_KEY);
    writeSessionJson(req, START_KEY, undefined);
    // A session id that existed before sign-in may have been planted (session fixation).
    await regenerateSession(req, true);

    const outcome = await completeSignIn({
      engine,
      guestToken: readGuestToken(req, cookieName),
      userId,
      startedGuestId: started?.guestId,
      confirm,
    });
    if (outcome.action === 'merged') {
      const { result, replayed } = outcome;
      await notifyMerge(options.onMerge, { req, result, replayed, via: 'callback' });
    }
    if (outcome.clearCookie) clearGuestCookie(req, res, cookieName);
    if (outcome.action !== 'confirm') return res.redirect(redirectTo);
    writeSessionJson(req, PENDING_KEY, outcome.pending);
    return res.redirect(confirmPath);
  };

  const decide = async (req: Request, res: Response) => {
    const origin = req.headers.origin;
    if (!isAllowedOrigin(origin, baseUrl.origin)) {
      throw new GuestmodeExpressError('csrf_failed', 'Cross-origin form posts are refused.');
    }
    const form = await readForm(req);
    const pending = readSessionJson<PendingMergeRecord>(req, PENDING_KEY);
    if (!pending || pending.expiresAt <= Date.now()) {
      writeSessionJson(req, PENDING_KEY, undefined);
      return res.redirect(redirectTo);
    }
    const check = checkMergeDecision(pending, form);
    if (!check.ok) throw new GuestmodeExpressError(check.code, check.message);
    // The merge goes to whoever this session is signed in as now, and only if that is still
    // the user the callback verified.
    const client = logtoClient(req, logto);
    if (!(await client.isAuthenticated())) {
      throw new GuestmodeExpressError('not_signed_in', 'Sign in to merge your guest data.');
    }
    if ((await client.getIdTokenClaims()).sub !== pending.userId) {
      throw new GuestmodeExpressError('user_mismatch', 'You are signed in as someone else.');
    }
    writeSessionJson(req, PENDING_KEY, undefined);
    const outcome = await applyMergeDecision({
      engine,
      pending,
      guestToken: readGuestToken(req, cookieName),
      decision: check.decision,
    });
    if (outcome.action === 'merged') {
      const { result, replayed } = outcome;
      await notifyMerge(options.onMerge, { req, result, replayed, via: 'confirm' });
    }
    if (outcome.clearCookie) clearGuestCookie(req, res, cookieName);
    return res.redirect(redirectTo);
  };

  const signOut = async (req: Request, res: Response) => {
    let target = logto.baseUrl;
    const client = logtoClient(req, logto, (url) => {
      target = url;
    });
    await client.signOut(logto.baseUrl);
    clearGuestCookie(req, res, cookieName);
    await regenerateSession(req, false);
    res.redirect(target);
  };

  const confirmPage = async (req: Request, res: Response) => {
    const pending = await getPendingMerge(req);
    if (!pending) return res.redirect(redirectTo);
    res.type('html').set('Cache-Control', 'no-store').send(renderConfirmPage(pending));
  };

  const routes: Record<string, (req: Request, res: Response) => unknown> = {
    [`GET ${prefix}/sign-in-callback`]: callback,
    [`GET ${prefix}/sign-out`]: signOut,
    [`POST ${mergePath}`]: decide,
  };
  if (builtInConfirmPage) routes[`GET ${confirmPath}`] = confirmPage;

  return (req: Request, res: Response, next: NextFunction) => {
    (req as Request & { [STATE]?: RoutesState })[STATE] = state;
    if (req.path === `${prefix}/sign-in` || req.path === `${prefix}/sign-up`) {
      try {
        startSignIn(req);
      } catch (error) {
        next(error);
        return;
      }
      next();
      return;
    }
    const route = routes[`${req.method === 'HEAD' ? 'GET' : req.method} ${req.path}`];
    if (!route) {
      next();
      return;
    }
    // Express 4 does not catch rejected promises: route every failure to next().
    Promise.resolve()
      .then(() => route(req, res))
      .catch(next);
  };
}
