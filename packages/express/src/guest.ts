import type { Guestmode } from '@guestmode/core';
import {
  checkCookieName,
  createGuestAccessor,
  DEFAULT_COOKIE_NAME,
  type GuestAccessor,
  guestCookie,
  openGuest,
} from '@guestmode/core/web';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  clearGuestCookie,
  isSecure,
  logtoUserId,
  readGuestToken,
  writeCookie,
} from './internal.js';

export type { GuestAccessor };

declare global {
  namespace Express {
    interface Request {
      /** Set by the `guestmode()` middleware of `@guestmode/express`. */
      guest: GuestAccessor;
    }
  }
}

export interface GuestmodeMiddlewareOptions {
  /** The engine from `createGuestmode(...)`. */
  readonly guestmode: Guestmode;
  /** Base name of the guest cookie (default `guestmode`; `__Host-guestmode` over HTTPS). */
  readonly cookieName?: string;
  /**
   * The signed-in user's id, or `undefined` for a visitor. Default: `req.user.claims.sub` from
   * `@logto/express`'s `withLogto`, so put `withLogto(config)` before this middleware.
   */
  readonly getUserId?: (req: Request) => string | undefined;
}

/**
 * Gives every request `req.guest`. Reads the guest cookie (an invalid, expired or already merged
 * one is deleted and the request continues as a new visitor), creates the guest lazily on the
 * first write, and switches to the signed-in user's profile when there is one.
 *
 * Works with Express 5 and 4 (it never leaves a rejected promise unhandled).
 *
 * @example
 * ```ts
 * app.use(cookieParser(), session({ secret, resave: false, saveUninitialized: false }));
 * app.use(handleGuestmodeAuthRoutes({ guestmode: engine, logto: config, resource }));
 * app.use(handleAuthRoutes(config));
 * app.use(withLogto(config));
 * app.use(guestmode({ guestmode: engine }));
 * app.post('/theme', async (req, res) => {
 *   await req.guest.set('theme', 'dark');
 *   res.redirect('/');
 * });
 * ```
 */
export function guestmode(options: GuestmodeMiddlewareOptions): RequestHandler {
  if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
  const engine = options.guestmode;
  if (!engine || typeof engine.authenticateGuest !== 'function') {
    throw new TypeError('options.guestmode must be the engine from createGuestmode()');
  }
  const cookieName =
    options.cookieName === undefined
      ? DEFAULT_COOKIE_NAME
      : checkCookieName(options.cookieName, 'options.cookieName');
  const getUserId = options.getUserId ?? logtoUserId;
  if (typeof getUserId !== 'function') {
    throw new TypeError('options.getUserId must be a function');
  }

  const setCookie = (req: Request, res: Response, token: string, expires: Date) =>
    writeCookie(res, guestCookie(cookieName, token, { secure: isSecure(req), expires }));

  const prepare = async (req: Request, res: Response): Promise<void> => {
    const userId = getUserId(req);
    // A signed-in user's guest cookie (a merge waiting for confirmation) is left to the merge
    // routes; only a visitor's cookie is checked here.
    const guestToken = userId === undefined ? readGuestToken(req, cookieName) : undefined;
    const opened = await openGuest(engine, { guestToken, userId });
    if (opened.cookie?.action === 'clear') clearGuestCookie(req, res, cookieName);
    if (opened.cookie?.action === 'set') {
      setCookie(req, res, opened.cookie.token, opened.cookie.expires);
    }
    req.guest = createGuestAccessor({
      engine,
      userId,
      guestId: opened.guestId,
      attributes: opened.attributes,
      onCreate: (token, expires) => setCookie(req, res, token, expires),
    });
  };

  return (req: Request, res: Response, next: NextFunction) => {
    prepare(req, res).then(() => next(), next);
  };
}
