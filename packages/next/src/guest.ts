import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Guestmode } from '@guestmode/core';
import {
  type GuestAccessor as CoreGuestAccessor,
  createGuestAccessor as createCoreAccessor,
  guestCookieName,
  openGuest,
} from '@guestmode/core/web';
import { appendCookie, rememberCookie, serializeCookie } from './cookies.js';
import type { GuestKind, GuestProfile } from './types.js';

/**
 * The profile of whoever is browsing. For a visitor it is their guest (created on the first
 * write); once they are signed in it is their user profile, so API routes and
 * `getServerSideProps` read and write `cart` or `theme` the same way before and after sign-in.
 */
export interface GuestAccessor extends CoreGuestAccessor {
  /** `user` when signed in, `guest` when a guest cookie is valid, `none` before the first write. */
  readonly kind: GuestKind;
  /** The JSON-serialisable view `useGuest()` reads (`GET <apiPath>/profile`). */
  profile(): Promise<GuestProfile>;
}

export interface GuestInit {
  readonly engine: Guestmode;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly cookieBase: string;
  readonly secure: boolean;
  readonly userId: string | undefined;
}

/** Writes the guest cookie carrying `token` (HttpOnly, SameSite=Lax, expiring with the guest). */
export function setGuestCookie(init: GuestInit, token: string, expires: Date): void {
  const name = guestCookieName(init.cookieBase, init.secure);
  appendCookie(init.res, serializeCookie(name, token, { secure: init.secure, expires }));
  rememberCookie(init.req, name, token);
}

/** Deletes the guest cookie in the browser and for the rest of this request. */
export function clearGuestCookie(
  req: IncomingMessage,
  res: ServerResponse,
  cookieBase: string,
  secure: boolean,
): void {
  const name = guestCookieName(cookieBase, secure);
  appendCookie(res, serializeCookie(name, '', { secure, expires: new Date(0) }));
  rememberCookie(req, name, undefined);
}

/**
 * The accessor for one request. A visitor's cookie is checked here (an invalid, expired or
 * merged one is deleted and the request continues as a new visitor); a signed-in user's guest
 * cookie is left alone for the merge routes.
 */
export async function createGuestAccessor(
  init: GuestInit,
  token: string | undefined,
): Promise<GuestAccessor> {
  const opened = await openGuest(init.engine, { guestToken: token, userId: init.userId });
  if (opened.cookie?.action === 'clear') {
    clearGuestCookie(init.req, init.res, init.cookieBase, init.secure);
  }
  if (opened.cookie?.action === 'set') {
    setGuestCookie(init, opened.cookie.token, opened.cookie.expires);
  }
  return createCoreAccessor({
    engine: init.engine,
    userId: init.userId,
    guestId: opened.guestId,
    attributes: opened.attributes,
    onCreate: (created, expires) => setGuestCookie(init, created, expires),
  });
}
