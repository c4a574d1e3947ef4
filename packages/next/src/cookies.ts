/**
 * Cookies on a Node `ServerResponse` that survive `@logto/next`: its cookie storage writes with
 * `res.setHeader('Set-Cookie', ...)`, which replaces every cookie set before it in the same
 * response. {@link appendCookie} installs (once per response) a `setHeader` wrapper that keeps
 * this package's cookies whenever anyone replaces the header, so the order of calls no longer
 * matters.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The default base name of the guest cookie (`__Host-guestmode` over HTTPS). */
export const DEFAULT_COOKIE_NAME = 'guestmode';

const COOKIE_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Checks a configured cookie name once (RFC 6265 token, no prefix: it is added on HTTPS). */
export function checkCookieName(name: unknown, path: string): string {
  if (typeof name !== 'string' || !COOKIE_NAME.test(name) || /^__(host|secure)-/i.test(name)) {
    throw new TypeError(`${path} must be a cookie name without a __Host-/__Secure- prefix`);
  }
  return name;
}

/**
 * The cookie's name on this connection. Over HTTPS it carries the `__Host-` prefix: browsers
 * then only accept it with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain (or a man
 * in the middle on plain HTTP) cannot plant it.
 */
export function cookieName(base: string, secure: boolean): string {
  return secure ? `__Host-${base}` : base;
}

export interface CookieOptions {
  readonly secure: boolean;
  /** Absent: a session cookie. A date in the past deletes the cookie. */
  readonly expires?: Date;
}

/** `name=value; Path=/; HttpOnly; SameSite=Lax[; Secure][; Expires=...]`. */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  let cookie = `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Lax`;
  if (options.expires) cookie += `; Expires=${options.expires.toUTCString()}`;
  if (options.secure) cookie += '; Secure';
  return cookie;
}

/** One cookie's value from a `Cookie` header (first occurrence wins), or `undefined`. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const parsed = (req as IncomingMessage & { cookies?: Partial<Record<string, string>> }).cookies;
  if (parsed && typeof parsed === 'object') {
    const value = parsed[name];
    return typeof value === 'string' && value.length > 0 ? value : undefined;
  }
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw) || undefined;
    } catch {
      return raw || undefined;
    }
  }
  return undefined;
}

const OURS = Symbol.for('@guestmode/next.cookies');

type Tracked = ServerResponse & { [OURS]?: Map<string, string> };

function nameOf(cookie: string): string {
  return cookie.slice(0, cookie.indexOf('=')).trim();
}

function asList(value: number | string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...value] : [String(value)];
}

/**
 * Adds a `Set-Cookie` to the response without dropping the others, and keeps it even if a
 * later `res.setHeader('Set-Cookie', ...)` (as `@logto/next` does) replaces the header.
 */
export function appendCookie(res: ServerResponse, cookie: string): void {
  if (res.headersSent) return;
  const tracked = res as Tracked;
  let ours = tracked[OURS];
  if (!ours) {
    const kept = new Map<string, string>();
    ours = kept;
    tracked[OURS] = kept;
    const setHeader = res.setHeader.bind(res);
    res.setHeader = ((name: string, value: number | string | readonly string[]) => {
      if (name.toLowerCase() !== 'set-cookie') return setHeader(name, value);
      const theirs = asList(value).filter((c) => !kept.has(nameOf(c)));
      return setHeader(name, [...theirs, ...kept.values()]);
    }) as ServerResponse['setHeader'];
  }
  ours.set(nameOf(cookie), cookie);
  res.setHeader('Set-Cookie', asList(res.getHeader('set-cookie')));
}

/**
 * Makes later reads in this request agree with a cookie just set or deleted (the guest cookie
 * a merge used up must not be read again by the page rendered afterwards).
 */
export function rememberCookie(req: IncomingMessage, name: string, value: string | undefined) {
  const parsed = (req as IncomingMessage & { cookies?: Record<string, string> }).cookies;
  if (!parsed || typeof parsed !== 'object') return;
  try {
    if (value === undefined) delete parsed[name];
    else parsed[name] = value;
  } catch {
    // Next's lazy `req.cookies` may be read-only in some versions; reads then see the header.
  }
}
