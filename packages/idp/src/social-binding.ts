import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Binds a federated sign-in (or account link) to the browser that started it. Starting sets a
 * short-lived HttpOnly cookie holding a hash of the flow's `state`; the upstream callback and the
 * completion accept the state only from a browser that holds that cookie. Without it, a person
 * who starts a sign-in and sends the upstream URL (which carries the state) to someone else would
 * be signed in as that someone once their browser comes back from the upstream.
 *
 * One cookie per flow (its name carries a prefix of the hash), so two sign-ins in two tabs of one
 * browser do not overwrite each other. Over HTTPS the name has the `__Host-` prefix, so a sibling
 * subdomain cannot plant one.
 */

const PREFIX = 'gm_idp_social_';

function digest(state: string): string {
  return createHash('sha256').update(state).digest('base64url');
}

function cookieName(hash: string, secure: boolean): string {
  return `${secure ? '__Host-' : ''}${PREFIX}${hash.slice(0, 16)}`;
}

function appendSetCookie(res: ServerResponse, cookie: string) {
  const existing = res.getHeader('set-cookie');
  const list =
    existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('set-cookie', [...list, cookie]);
}

/** Sets the binding cookie for `state`, living `ttlMs`. */
export function bindBrowser(res: ServerResponse, state: string, secure: boolean, ttlMs: number) {
  const hash = digest(state);
  appendSetCookie(
    res,
    // Lax, not Strict: the upstream sends the browser back with a cross-site top-level GET.
    `${cookieName(hash, secure)}=${hash}; Path=/; Max-Age=${Math.floor(ttlMs / 1000)}; HttpOnly;${secure ? ' Secure;' : ''} SameSite=Lax`,
  );
}

/** Removes the binding cookie of `state` (the flow is over, whichever way it ended). */
export function unbindBrowser(res: ServerResponse, state: string, secure: boolean) {
  appendSetCookie(
    res,
    `${cookieName(digest(state), secure)}=; Path=/; Max-Age=0; HttpOnly;${secure ? ' Secure;' : ''} SameSite=Lax`,
  );
}

/** Whether this request comes from the browser that started the flow of `state`. */
export function isBoundBrowser(req: IncomingMessage, state: string, secure: boolean): boolean {
  const hash = digest(state);
  const name = cookieName(hash, secure);
  const header = req.headers.cookie;
  if (!header) return false;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const actual = Buffer.from(part.slice(eq + 1).trim());
    const expected = Buffer.from(hash);
    if (actual.length === expected.length && timingSafeEqual(actual, expected)) return true;
  }
  return false;
}
