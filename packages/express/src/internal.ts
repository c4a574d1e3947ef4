import {
  type CookieData,
  clearedGuestCookie,
  guestCookieName,
  readCookie,
} from '@guestmode/core/web';
import type { Request, Response } from 'express';

/** The parts of `@logto/express`'s `req.user` (a `LogtoContext`) this package reads. */
interface LogtoUserLike {
  readonly isAuthenticated?: boolean;
  readonly claims?: { readonly sub?: unknown };
}

/** True when the request reached the app over HTTPS (honours Express's `trust proxy`). */
export function isSecure(req: Request): boolean {
  return req.secure === true;
}

/** The signed-in user's id from `withLogto` (`req.user.claims.sub`), if any. */
export function logtoUserId(req: Request): string | undefined {
  const user = (req as Request & { user?: LogtoUserLike }).user;
  if (!user?.isAuthenticated) return undefined;
  const sub = user.claims?.sub;
  return typeof sub === 'string' && sub.length > 0 ? sub : undefined;
}

/** The guest credential from the request's cookie (via `cookie-parser` or the raw header). */
export function readGuestToken(req: Request, base: string): string | undefined {
  const name = guestCookieName(base, isSecure(req));
  const parsed = (req as Request & { cookies?: unknown }).cookies;
  const value =
    parsed && typeof parsed === 'object'
      ? (parsed as Record<string, unknown>)[name]
      : readCookie(req.headers.cookie, name);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function writeCookie(res: Response, cookie: CookieData): void {
  if (res.headersSent) return;
  res.cookie(cookie.name, cookie.value, { ...cookie.attributes });
}

export function clearGuestCookie(req: Request, res: Response, base: string): void {
  writeCookie(res, clearedGuestCookie(base, { secure: isSecure(req) }));
  // Later middleware in this request must not see the cookie that was just deleted.
  const parsed = (req as Request & { cookies?: Record<string, unknown> }).cookies;
  if (parsed && typeof parsed === 'object') delete parsed[guestCookieName(base, isSecure(req))];
}

/** `req.session` as a plain record; throws the same advice `@logto/express` gives when absent. */
export function sessionOf(req: Request): Record<string, unknown> {
  const session = (req as Request & { session?: Record<string, unknown> }).session;
  if (!session || typeof session !== 'object') {
    throw new TypeError(
      '@guestmode/express needs express-session: app.use(session(...)) before its routes',
    );
  }
  return session;
}

/** Reads a JSON value this package stored in the session (Logto's storage holds strings). */
export function readSessionJson<T>(req: Request, key: string): T | undefined {
  const raw = sessionOf(req)[key];
  if (typeof raw !== 'string') return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}

export function writeSessionJson(req: Request, key: string, value: unknown): void {
  const session = sessionOf(req);
  if (value === undefined) delete session[key];
  else session[key] = JSON.stringify(value);
}
