/**
 * The guest of an App Router request: what Server Components read and what Server Actions and
 * Route Handlers read and write.
 */
import type { Guestmode } from '@guestmode/core';
import { GuestmodeError } from '@guestmode/core';
import {
  type GuestAccessor,
  type GuestProfileView,
  guestCookieJar,
  type MergeWait,
  openRequestGuest,
  type RequestFacts,
  requestSite,
  type SignInSettings,
} from '@guestmode/core/web';
import { type AppContext, appCookieJar, appUserId } from './port.js';

/** The profile of whoever is browsing (a guest, or the signed-in user). */
export interface AppGuest extends GuestAccessor {
  /** The JSON-serialisable view (`GET <apiPath>/profile`, props for Client Components). */
  profile(): Promise<GuestProfileView>;
}

/** What {@link openAppGuest} needs for one request. */
export interface AppGuestRequest {
  readonly engine: Promise<Guestmode>;
  readonly ctx: AppContext;
  readonly facts: RequestFacts;
  /** `false` in Server Components: no cookie is written, writes are refused. */
  readonly writable: boolean;
  /** The sign-in flow's `mergePending` for this request (whether and where a merge waits). */
  readonly resume: () => Promise<MergeWait>;
  /** The request's key for the engine's guest-creation limit. */
  readonly clientKey: string;
}

/**
 * Opens the request's guest. Writable (actions, route handlers): the first write of a visitor
 * creates the guest and sets its cookie, and writes from another site are refused. Read-only
 * (Server Components, where Next refuses cookie writes): writes throw a `TypeError`.
 */
export async function openAppGuest(input: AppGuestRequest): Promise<AppGuest> {
  const { ctx, writable } = input;
  const settings: SignInSettings = ctx.settings;
  const site = requestSite(input.facts, settings.appOrigin);
  const { guest } = await openRequestGuest({
    engine: input.engine,
    userId: await appUserId(ctx.logtoClient),
    cookies: guestCookieJar(await appCookieJar(settings.secure, writable), settings),
    facts: input.facts,
    appOrigin: settings.appOrigin,
    clientKey: input.clientKey,
    resume: input.resume,
    checkWrite() {
      if (!writable) {
        throw new TypeError(
          'readGuest(): a Server Component cannot set cookies; write from a Server Action or a ' +
            'Route Handler with getGuest()',
        );
      }
      if (site !== 'same-origin') {
        throw new GuestmodeError('cross_site_request', 'Requests from other sites are refused.');
      }
    },
  });
  return guest;
}
