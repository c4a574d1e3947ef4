import type { Guestmode, Principal } from '@guestmode/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { checkCookieName, DEFAULT_COOKIE_NAME, guestCookie } from './cookie.js';
import {
  clearGuestCookie,
  isSecure,
  logtoUserId,
  readGuestToken,
  writeCookie,
} from './internal.js';

/**
 * `req.guest`: the profile of whoever is browsing. For a visitor it is their guest (created on
 * the first write); once they are signed in it is their user profile, so handlers read and write
 * `cart` or `theme` the same way before and after sign-in.
 */
export interface GuestAccessor {
  /** `user` when signed in, `guest` when a guest cookie is valid, `none` before the first write. */
  readonly kind: 'user' | 'guest' | 'none';
  /** The guest's id; `undefined` until the guest exists (and while a user is signed in). */
  readonly id: string | undefined;
  /** The signed-in user's id (the provider's `sub`), or `undefined`. */
  readonly userId: string | undefined;
  /** The guest or user whose attributes are read and written; `undefined` before the first write. */
  readonly principal: Principal | undefined;
  /** One attribute, parsed; `undefined` when absent. */
  get<T = unknown>(name: string): Promise<T | undefined>;
  /** Every attribute, parsed. */
  all(): Promise<Record<string, unknown>>;
  /** Writes one attribute. The first write of a visitor creates the guest and sets its cookie. */
  set(name: string, value: unknown): Promise<void>;
  /** Deletes one attribute; `false` when it did not exist (or there is no guest yet). */
  delete(name: string): Promise<boolean>;
}

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

class RequestGuest implements GuestAccessor {
  readonly #engine: Guestmode;
  readonly #req: Request;
  readonly #res: Response;
  readonly #cookieName: string;
  readonly #userId: string | undefined;
  #guestId: string | undefined;
  #cache: Record<string, unknown> | undefined;
  #creating: Promise<void> | undefined;

  constructor(init: {
    engine: Guestmode;
    req: Request;
    res: Response;
    cookieName: string;
    userId: string | undefined;
    guestId: string | undefined;
    attributes: Record<string, unknown> | undefined;
  }) {
    this.#engine = init.engine;
    this.#req = init.req;
    this.#res = init.res;
    this.#cookieName = init.cookieName;
    this.#userId = init.userId;
    this.#guestId = init.guestId;
    this.#cache = init.attributes;
  }

  get kind(): 'user' | 'guest' | 'none' {
    if (this.#userId !== undefined) return 'user';
    return this.#guestId === undefined ? 'none' : 'guest';
  }

  get id(): string | undefined {
    return this.#userId === undefined ? this.#guestId : undefined;
  }

  get userId(): string | undefined {
    return this.#userId;
  }

  get principal(): Principal | undefined {
    if (this.#userId !== undefined) return { kind: 'user', id: this.#userId };
    return this.#guestId === undefined ? undefined : { kind: 'guest', id: this.#guestId };
  }

  async all(): Promise<Record<string, unknown>> {
    if (this.#creating) await this.#creating;
    if (this.#cache === undefined) {
      const principal = this.principal;
      this.#cache = principal ? await this.#engine.getAttributes(principal) : {};
    }
    return structuredClone(this.#cache);
  }

  async get<T = unknown>(name: string): Promise<T | undefined> {
    const all = await this.all();
    return all[name] as T | undefined;
  }

  async set(name: string, value: unknown): Promise<void> {
    if (this.#creating) await this.#creating;
    const principal = this.principal;
    if (principal) {
      await this.#engine.setAttribute(principal, name, value);
    } else {
      // The lazy "first meaningful action": the guest and its first attribute in one write.
      const creating = this.#create(name, value);
      this.#creating = creating.catch(() => {});
      await creating;
    }
    if (this.#cache !== undefined) this.#cache[name] = structuredClone(value);
  }

  async #create(name: string, value: unknown): Promise<void> {
    const { guest, token } = await this.#engine.createGuest({ [name]: value });
    this.#guestId = guest.id;
    this.#cache = { [name]: structuredClone(value) };
    writeCookie(
      this.#res,
      guestCookie(this.#cookieName, token, {
        secure: isSecure(this.#req),
        expires: guest.expiresAt,
      }),
    );
  }

  async delete(name: string): Promise<boolean> {
    if (this.#creating) await this.#creating;
    const principal = this.principal;
    if (!principal) return false;
    const deleted = await this.#engine.deleteAttribute(principal, name);
    if (this.#cache !== undefined) delete this.#cache[name];
    return deleted;
  }
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

  const prepare = async (req: Request, res: Response): Promise<void> => {
    const userId = getUserId(req);
    let guestId: string | undefined;
    let attributes: Record<string, unknown> | undefined;
    // A signed-in user's guest cookie (a merge waiting for confirmation) is left to the merge
    // routes; only a visitor's cookie is checked here.
    const token = userId === undefined ? readGuestToken(req, cookieName) : undefined;
    if (token !== undefined) {
      const session = await engine.validateGuest(token);
      if (session === null) {
        clearGuestCookie(req, res, cookieName);
      } else {
        guestId = session.guest.id;
        attributes = {};
        for (const a of session.attributes) attributes[a.name] = JSON.parse(a.value);
        if (session.fresh) {
          writeCookie(
            res,
            guestCookie(cookieName, token, {
              secure: isSecure(req),
              expires: session.guest.expiresAt,
            }),
          );
        }
      }
    }
    req.guest = new RequestGuest({ engine, req, res, cookieName, userId, guestId, attributes });
  };

  return (req: Request, res: Response, next: NextFunction) => {
    prepare(req, res).then(() => next(), next);
  };
}
