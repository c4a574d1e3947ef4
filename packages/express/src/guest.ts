import type { Guestmode, TrustedProxies } from '@guestmode/core';
import {
  checkBaseUrl,
  checkCookieName,
  checkEngineOption,
  DEFAULT_COOKIE_NAME,
  type GuestAccessor,
  guestCookieJar,
  nodeClientKeyReader,
  nodeCookieJar,
  nodeRequestFacts,
  openRequestGuest,
  signedInUserId,
} from '@guestmode/core/web';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { routesState } from './auth-routes.js';

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
  /**
   * The app's public URL, e.g. `https://shop.example`. Its origin decides which requests are
   * same-origin (only those create a guest); its scheme whether the cookie is
   * `__Host-…; Secure`, whatever the request's own scheme is (behind a TLS proxy without
   * `trust proxy`, requests arrive as plain HTTP). Default: `logto.baseUrl` of
   * `handleGuestmodeAuthRoutes`, which must then be mounted before; when both are given they must
   * have the same origin.
   */
  readonly baseUrl?: string;
  /** Base name of the guest cookie (default `guestmode`; `__Host-guestmode` over HTTPS). */
  readonly cookieName?: string;
  /**
   * The signed-in user's id, or `undefined` for a visitor. Default: `req.user.claims.sub` from
   * `@logto/express`'s `withLogto`, so put `withLogto(config)` before this middleware.
   */
  readonly getUserId?: (req: Request) => string | undefined;
  /**
   * Which proxies may name the client in `X-Forwarded-For`, for the guest-creation limit
   * (`options.guestCreationLimit` of the engine): a hop count, or proxy addresses and CIDR
   * ranges. Default `0`: the peer address is the client.
   */
  readonly trustProxy?: TrustedProxies;
}

/** The app's origin and scheme: this middleware's `baseUrl`, checked against the routes' one. */
function appUrl(req: Request, own: URL | undefined): URL {
  const routes = routesState(req)?.settings;
  if (own && routes && routes.appOrigin !== own.origin) {
    throw new TypeError(
      `options.baseUrl (${own.origin}) must have the origin of logto.baseUrl (${routes.appOrigin})`,
    );
  }
  const url = own ?? (routes ? new URL(routes.baseUrl) : undefined);
  if (!url) {
    throw new TypeError(
      'options.baseUrl is required unless handleGuestmodeAuthRoutes() is mounted before guestmode()',
    );
  }
  return url;
}

/**
 * Gives every request `req.guest`. Reads the guest cookie (an invalid, expired or already merged
 * one is deleted and the request continues as a new visitor), creates the guest lazily on the
 * first write of a same-origin request (another site's request gets `cross_site_request`), and
 * switches to the signed-in user's profile when there is one. A page navigation of a user whose
 * merge, retried after a temporary failure at sign-in, waits for their decision is redirected
 * (303) once to the confirm page; other requests see `req.guest.confirmUrl`.
 *
 * Works with Express 5 and 4 (it never leaves a rejected promise unhandled).
 *
 * @example
 * ```ts
 * app.use(cookieParser(), session({ secret, resave: false, saveUninitialized: false }));
 * app.use(handleGuestmodeAuthRoutes({ guestmode: engine, logto: config, resource }));
 * app.use(withLogto(config));
 * app.use(guestmode({ guestmode: engine }));
 * app.post('/theme', async (req, res) => {
 *   await req.guest.set('theme', 'dark');
 *   res.redirect(303, '/');
 * });
 * ```
 */
export function guestmode(options: GuestmodeMiddlewareOptions): RequestHandler {
  const engine = checkEngineOption(options);
  const own =
    options.baseUrl === undefined ? undefined : checkBaseUrl(options.baseUrl, 'options.baseUrl');
  const cookieName =
    options.cookieName === undefined
      ? DEFAULT_COOKIE_NAME
      : checkCookieName(options.cookieName, 'options.cookieName');
  // By default `req.user` from `withLogto`.
  const getUserId = options.getUserId ?? ((req: Request) => signedInUserId(req.user));
  if (typeof getUserId !== 'function') {
    throw new TypeError('options.getUserId must be a function');
  }
  const clientKey = nodeClientKeyReader(options.trustProxy, 'options.trustProxy');

  const prepare = async (req: Request, res: Response): Promise<string | undefined> => {
    const url = appUrl(req, own);
    const secure = url.protocol === 'https:';
    const routes = routesState(req);
    const opened = await openRequestGuest({
      engine,
      userId: getUserId(req),
      cookies: guestCookieJar(nodeCookieJar(req, res, secure), { cookieName, secure }),
      facts: nodeRequestFacts(req),
      appOrigin: url.origin,
      clientKey: clientKey(req),
      resume:
        routes &&
        (() =>
          routes.flow.mergePending(routes.port(req, res), {
            retry: true,
            path: req.baseUrl + req.path,
          })),
    });
    req.guest = opened.guest;
    return opened.redirect;
  };

  return (req: Request, res: Response, next: NextFunction) => {
    prepare(req, res).then((to) => (to ? res.redirect(303, to) : next()), next);
  };
}
