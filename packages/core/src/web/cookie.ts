/**
 * The guest cookie as data: its name, attributes and `Set-Cookie` serialisation, with no web
 * framework. Adapters write the result with their own cookie API, so the security attributes
 * are decided in one place.
 */

/** Attributes of a cookie, in the shape Express's `res.cookie` options take. */
export interface CookieAttributes {
  readonly httpOnly: true;
  readonly sameSite: 'lax';
  readonly secure: boolean;
  readonly path: '/';
  readonly expires: Date;
}

/** A cookie to set (or, with an expiry in the past, to delete). */
export interface CookieData {
  readonly name: string;
  readonly value: string;
  readonly attributes: CookieAttributes;
}

/** The default base name of the guest cookie (`__Host-guestmode` over HTTPS). */
export const DEFAULT_COOKIE_NAME = 'guestmode';

const COOKIE_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * Checks a configured cookie name once (RFC 6265 token, no prefix: it is added on HTTPS).
 * Throws a `TypeError` naming `path` (the option) otherwise.
 */
export function checkCookieName(name: unknown, path: string): string {
  if (typeof name !== 'string' || !COOKIE_NAME.test(name) || /^__(host|secure)-/i.test(name)) {
    throw new TypeError(`${path} must be a cookie name without a __Host-/__Secure- prefix`);
  }
  return name;
}

/**
 * The cookie's name on this connection. Over HTTPS it carries the `__Host-` prefix: browsers
 * then only accept it with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain (or a
 * man in the middle on plain HTTP) cannot plant a guest cookie for this host. Plain-HTTP
 * development cannot use the prefix, which browsers reject without `Secure`.
 */
export function guestCookieName(base: string, secure: boolean): string {
  return secure ? `__Host-${base}` : base;
}

/**
 * An `HttpOnly`, `SameSite=Lax`, `Path=/` cookie named exactly `name` (no prefix added). The
 * shape of every cookie the adapters set: the guest cookie and their own sign-in records.
 */
export function httpOnlyCookie(
  name: string,
  value: string,
  options: { secure: boolean; expires: Date },
): CookieData {
  return {
    name,
    value,
    attributes: {
      httpOnly: true,
      sameSite: 'lax',
      secure: options.secure,
      path: '/',
      expires: options.expires,
    },
  };
}

/**
 * The guest cookie carrying `token`, expiring with the guest. HttpOnly keeps scripts (and XSS)
 * away from the credential; SameSite=Lax keeps it off cross-site subrequests and form posts
 * while top-level navigation (the return from the provider) still carries it.
 *
 * @example
 * ```ts
 * const { guest, token } = await engine.createGuest({ theme: 'dark' });
 * const cookie = guestCookie('guestmode', token, { secure: true, expires: guest.expiresAt });
 * response.headers.append('Set-Cookie', serializeCookie(cookie)); // __Host-guestmode=gm_…
 * ```
 */
export function guestCookie(
  base: string,
  token: string,
  options: { secure: boolean; expires: Date },
): CookieData {
  return httpOnlyCookie(guestCookieName(base, options.secure), token, options);
}

/** A cookie that deletes the guest cookie (same name and attributes, expired, empty). */
export function clearedGuestCookie(base: string, options: { secure: boolean }): CookieData {
  return guestCookie(base, '', { secure: options.secure, expires: new Date(0) });
}

/** `name=value; Path=/; HttpOnly; SameSite=Lax; Expires=…[; Secure]`: a `Set-Cookie` value. */
export function serializeCookie(cookie: CookieData): string {
  const { attributes } = cookie;
  let header = `${cookie.name}=${encodeURIComponent(cookie.value)}; Path=${attributes.path}; HttpOnly; SameSite=Lax`;
  header += `; Expires=${attributes.expires.toUTCString()}`;
  if (attributes.secure) header += '; Secure';
  return header;
}

/**
 * One cookie's value from a `Cookie` header, or `undefined`. The first occurrence wins (as in
 * `cookie-parser` and Next's parser); a quoted value is unquoted, then URI-decoded.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}
