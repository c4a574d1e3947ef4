/**
 * Cookies on a Node request and response, for adapters on Node's HTTP server. A response may
 * pass through code that writes `res.setHeader('Set-Cookie', ...)` (as `@logto/next`'s cookie
 * storage does), which replaces every cookie set before it: {@link appendCookie} installs (once
 * per response) a `setHeader` wrapper that keeps the cookies written here whenever anyone
 * replaces the header, so the order of calls does not matter.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpOnlyCookie, readCookie, serializeCookie } from './cookie.js';
import type { CookieJar } from './cookie-records.js';

/** One cookie's value (a parsed `req.cookies`, else the header), or `undefined` when empty. */
export function readRequestCookie(req: IncomingMessage, name: string): string | undefined {
  const parsed = (req as IncomingMessage & { cookies?: Record<string, unknown> }).cookies;
  const value =
    parsed && typeof parsed === 'object' ? parsed[name] : readCookie(req.headers.cookie, name);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * The request's cookies as a {@link CookieJar}: writes are HttpOnly, SameSite=Lax, `Path=/`
 * (`Secure` with `secure`), and later reads in this request agree with them (the guest cookie a
 * merge used up must not be read again by the page rendered afterwards).
 */
export function nodeCookieJar(
  req: IncomingMessage,
  res: ServerResponse,
  secure: boolean,
): CookieJar {
  return {
    get: (name) => readRequestCookie(req, name),
    set(name, value, expires) {
      appendCookie(res, serializeCookie(httpOnlyCookie(name, value, { secure, expires })));
      const parsed = (req as IncomingMessage & { cookies?: Record<string, string> }).cookies;
      if (!parsed || typeof parsed !== 'object') return;
      try {
        if (value === '') delete parsed[name];
        else parsed[name] = value;
      } catch {
        // A framework's lazy `req.cookies` may be read-only; reads then see the header.
      }
    },
  };
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
