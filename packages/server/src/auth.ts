import {
  GUEST_CREDENTIAL_PREFIX as GUEST_PREFIX,
  type Guestmode,
  GuestmodeError,
  type GuestSession,
} from '@guestmode/core';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The guest cookie over plain HTTP (development, or behind a proxy that is not trusted). */
export const COOKIE_NAME = 'guestmode';
/**
 * The guest cookie over HTTPS. The `__Host-` prefix makes browsers refuse it unless it is
 * Secure, has Path=/ and no Domain, so a sibling subdomain cannot plant a guest cookie of its
 * own in a visitor's browser; over HTTPS only this name is read.
 */
export const SECURE_COOKIE_NAME = '__Host-guestmode';

/** Who is calling: a guest (with its session, read in the same round trip) or a user. */
export type Caller =
  | {
      readonly kind: 'guest';
      readonly id: string;
      readonly session: GuestSession;
      /** Where the credential came from: cookies are refreshed and cleared, tokens are not. */
      readonly via: 'bearer' | 'cookie';
    }
  | { readonly kind: 'user'; readonly id: string };

/** `request.protocol` follows `X-Forwarded-Proto` only when the proxy is trusted. */
export function isHttps(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}

function cookieName(request: FastifyRequest): string {
  return isHttps(request) ? SECURE_COOKIE_NAME : COOKIE_NAME;
}

/** The guest credential in the cookie, if any. */
export function readGuestCookie(request: FastifyRequest): string | undefined {
  const value = request.cookies[cookieName(request)];
  return value ? value : undefined;
}

const CREDENTIAL_SHAPE = /^gm_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
let expiresCache = { second: 0, text: '' };

/**
 * Sends the guest cookie; it expires with the guest, so a refreshed guest re-sends it.
 *
 * Written by hand on purpose: the line has one fixed shape and the value is a credential the
 * engine generated (base64url, `_`, `.`: nothing to encode), while building it through the
 * cookie library cost about 6% of guest creation (docs/performance.md). The shape is checked,
 * so nothing else can ever be written this way.
 */
export function setGuestCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  token: string,
  expiresAt: Date,
): void {
  if (!CREDENTIAL_SHAPE.test(token)) throw new TypeError('not a guest credential');
  const second = Math.floor(expiresAt.getTime() / 1000);
  if (expiresCache.second !== second) {
    expiresCache = { second, text: new Date(second * 1000).toUTCString() };
  }
  const secure = isHttps(request);
  reply.header(
    'set-cookie',
    `${secure ? SECURE_COOKIE_NAME : COOKIE_NAME}=${token}; Path=/; Expires=${expiresCache.text}; HttpOnly;${secure ? ' Secure;' : ''} SameSite=Lax`,
  );
}

/** Removes a guest cookie that can no longer work (merged, expired, unknown). */
export function clearGuestCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(cookieName(request), {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: isHttps(request),
  });
}

/**
 * The token of `Authorization: Bearer <token>`; `undefined` without the header. Any other
 * scheme is a malformed request rather than "no credential", so it is never silently ignored.
 */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined || header === '') return undefined;
  const match = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!match) {
    throw new GuestmodeError('invalid_request', 'Authorization must be "Bearer <token>".');
  }
  return match[1];
}

/**
 * Verifies a provider access token. An engine made without `accessTokens` (no issuer
 * configured) refuses every access token with the usual 401 instead of failing with a 500.
 */
export async function verifyUser(guestmode: Guestmode, token: string): Promise<string> {
  if (!guestmode.verifiesAccessTokens) {
    throw new GuestmodeError(
      'invalid_access_token',
      'This service accepts no access tokens: no OIDC issuer is configured.',
    );
  }
  return (await guestmode.verifyAccessToken(token)).userId;
}

/**
 * Authenticates a guest credential from the cookie: refreshes the cookie when the guest's
 * lifetime was extended, and clears it when the guest can no longer be used, so the browser
 * stops sending a dead credential.
 */
export async function authenticateCookie(
  guestmode: Guestmode,
  request: FastifyRequest,
  reply: FastifyReply,
  token: string,
): Promise<GuestSession> {
  try {
    const session = await guestmode.authenticateGuest(token);
    if (session.fresh) setGuestCookie(request, reply, token, session.guest.expiresAt);
    return session;
  } catch (error) {
    if (error instanceof GuestmodeError && error.status === 401) clearGuestCookie(request, reply);
    throw error;
  }
}

/**
 * The guest credential of the request, without checking it: a `gm_` Bearer token, or else (when
 * there is no Authorization header at all) the guest cookie. `undefined` when the caller is a
 * user or sends nothing.
 */
export function guestCredential(
  request: FastifyRequest,
): { token: string; via: 'bearer' | 'cookie' } | undefined {
  const bearer = bearerToken(request);
  if (bearer !== undefined) {
    return bearer.startsWith(GUEST_PREFIX) ? { token: bearer, via: 'bearer' } : undefined;
  }
  const cookie = readGuestCookie(request);
  return cookie === undefined ? undefined : { token: cookie, via: 'cookie' };
}

/**
 * Identifies the caller: `Authorization: Bearer` first (a `gm_` token is a guest credential,
 * anything else an OIDC access token), then the guest cookie. `null` when the request carries
 * no credential at all; a credential that is present but not valid throws (401), so a typo
 * never silently turns into a fresh, empty guest.
 */
export async function identify(
  guestmode: Guestmode,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<Caller | null> {
  const bearer = bearerToken(request);
  if (bearer !== undefined) {
    // The prefix alone decides: a JWT always starts with its base64url header ("eyJ"), never
    // with "gm_". (`looksLikeGuestCredential` also rejects any token containing "eyJ", which
    // about 1 in 4,000 random guest secrets do, and would lock those guests out of Bearer.)
    if (bearer.startsWith(GUEST_PREFIX)) {
      const session = await guestmode.authenticateGuest(bearer);
      return { kind: 'guest', id: session.guest.id, session, via: 'bearer' };
    }
    return { kind: 'user', id: await verifyUser(guestmode, bearer) };
  }
  const cookie = readGuestCookie(request);
  if (cookie !== undefined) {
    const session = await authenticateCookie(guestmode, request, reply, cookie);
    return { kind: 'guest', id: session.guest.id, session, via: 'cookie' };
  }
  return null;
}

/** {@link identify}, refusing a request without any credential. */
export async function requireCaller(
  guestmode: Guestmode,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<Caller> {
  const caller = await identify(guestmode, request, reply);
  if (!caller) {
    throw new GuestmodeError(
      'credential_required',
      'Send a guest token or an access token as Authorization: Bearer, or the guest cookie.',
    );
  }
  return caller;
}

/**
 * The rule that keeps a cookie-authenticated merge from being driven by another site: when the
 * browser says where the request comes from (`Sec-Fetch-Site`, or else `Origin`), it must be this
 * service's own origin. Requests that send neither are not from a browser page and cannot carry
 * a victim's cookie cross-site. Clients that send the guest token in `Guest-Token` skip this:
 * a custom header cannot be sent cross-site without a CORS preflight, which this service never
 * grants.
 */
export function assertSameOrigin(request: FastifyRequest): void {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== '') {
    if (site === 'same-origin' || site === 'none') return;
    throw new GuestmodeError(
      'cross_site_request',
      'A merge that uses the guest cookie must come from this origin; send the Guest-Token header instead.',
    );
  }
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== '') {
    const own = `${request.protocol}://${request.host}`;
    if (origin.toLowerCase() !== own.toLowerCase()) {
      throw new GuestmodeError(
        'cross_site_request',
        'A merge that uses the guest cookie must come from this origin; send the Guest-Token header instead.',
      );
    }
  }
}

/**
 * The rule for guest creation: `POST /v1/guests` with a JSON body is a request a page on another
 * origin can make with the visitor's cookies (a sibling subdomain is even "same-site"), so a
 * browser request must come from the service's own origin. A browser says where a request comes
 * from (`Sec-Fetch-Site`, `Origin`); both must agree with the service's public origin (or, when
 * none is configured, the origin the request was addressed to). Programs that send neither
 * header are not pages and carry no visitor's cookie.
 */
export function assertBrowserSameOrigin(
  request: FastifyRequest,
  publicOrigin: string | undefined,
): void {
  const refuse = () =>
    new GuestmodeError(
      'cross_site_request',
      "A browser may create a guest only from the service's own origin.",
    );
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== '' && site !== 'same-origin' && site !== 'none') {
    throw refuse();
  }
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== '') {
    const own = publicOrigin ?? `${request.protocol}://${request.host}`;
    if (origin.toLowerCase() !== own.toLowerCase()) throw refuse();
  }
}
