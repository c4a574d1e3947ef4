/**
 * Cookies on a Node `ServerResponse` that survive `@logto/next`: its cookie storage writes with
 * `res.setHeader('Set-Cookie', ...)`, which replaces every cookie set before it in the same
 * response. {@link appendCookie} installs (once per response) a `setHeader` wrapper that keeps
 * this package's cookies whenever anyone replaces the header, so the order of calls no longer
 * matters.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  httpOnlyCookie,
  readCookie as readCookieHeader,
  serializeCookie as serialize,
} from '@guestmode/core/web';

/**
 * Sets (or, with an empty value, deletes) an HttpOnly, SameSite=Lax, `Path=/` cookie, and makes
 * later reads in this request agree with it (the guest cookie a merge used up must not be read
 * again by the page rendered afterwards).
 */
export function writeCookie(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  value: string,
  options: { readonly secure: boolean; readonly expires: Date },
): void {
  appendCookie(res, serialize(httpOnlyCookie(name, value, options)));
  const parsed = (req as IncomingMessage & { cookies?: Record<string, string> }).cookies;
  if (!parsed || typeof parsed !== 'object') return;
  try {
    if (value === '') delete parsed[name];
    else parsed[name] = value;
  } catch {
    // Next's lazy `req.cookies` may be read-only in some versions; reads then see the header.
  }
}

/** One cookie's value (Next's parsed `req.cookies`, else the header), or `undefined` when empty. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const parsed = (req as IncomingMessage & { cookies?: Partial<Record<string, string>> }).cookies;
  const value =
    parsed && typeof parsed === 'object'
      ? parsed[name]
      : readCookieHeader(req.headers.cookie, name);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
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
