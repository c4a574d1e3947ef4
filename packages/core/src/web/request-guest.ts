/**
 * The guest of one request, opened the same way by every adapter: the request's guest cookie,
 * its site and rate-limit key, and first the retry of a merge that failed at sign-in.
 */
import type { Guestmode } from '../engine.js';
import type { GuestCookieJar } from './cookie-records.js';
import { type GuestAccessor, type GuestProfileView, openGuestAccessor } from './guest.js';
import type { MergeWait } from './merge-wait.js';
import { type RequestFacts, requestSite } from './site.js';

/** What {@link openRequestGuest} needs from the adapter for one request. */
export interface RequestGuestInit {
  readonly engine: Guestmode | Promise<Guestmode>;
  /** The signed-in user's id, from a verified source, or `undefined` for a visitor. */
  readonly userId: string | undefined;
  /** The request's guest cookie. */
  readonly cookies: GuestCookieJar;
  /** The request, and the app's origin: only a same-origin request creates a guest. */
  readonly facts: RequestFacts;
  readonly appOrigin: string;
  /** The request's key for the engine's guest-creation limit. */
  readonly clientKey: string;
  /**
   * The sign-in flow's `mergePending` for this request, asked for a signed-in user only: a merge
   * that failed at sign-in for a temporary reason is retried here, before the profile is read.
   */
  readonly resume?: (() => Promise<MergeWait>) | undefined;
  /** Refuses the request's writes by throwing (a request that must not write cookies). */
  readonly checkWrite?: (() => void) | undefined;
}

/** What {@link openRequestGuest} opens. */
export interface RequestGuest {
  readonly guest: GuestAccessor & { profile(): Promise<GuestProfileView> };
  /**
   * Where to send this request first (303): a page navigation of a user whose merge, retried
   * after a temporary failure at sign-in, waits for a decision they have not been asked for.
   */
  readonly redirect: string | undefined;
}

/**
 * The request's guest accessor: the merge waiting to be retried first, then the guest cookie
 * checked (a bad one is deleted), with writes creating the guest and its cookie.
 *
 * @example
 * ```ts
 * const { guest, redirect } = await openRequestGuest({ engine, userId, cookies, facts,
 *   appOrigin, clientKey, resume: () => flow.mergePending(port, { retry: true, path }) });
 * ```
 */
export async function openRequestGuest(init: RequestGuestInit): Promise<RequestGuest> {
  const { userId, cookies } = init;
  const wait = userId !== undefined && init.resume !== undefined ? await init.resume() : undefined;
  const guest = await openGuestAccessor({
    engine: await init.engine,
    userId,
    // A signed-in user's guest cookie (a merge waiting for confirmation) is left to the merge
    // routes: the accessor only checks a visitor's.
    guestToken: cookies.guestToken(),
    site: requestSite(init.facts, init.appOrigin),
    clientKey: init.clientKey,
    mergePending: wait ?? false,
    checkWrite: init.checkWrite,
    setCookie: cookies.setGuestCookie,
    clearCookie: cookies.clearGuestCookie,
  });
  return { guest, redirect: wait?.redirect };
}
