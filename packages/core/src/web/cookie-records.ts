/**
 * The sign-in flow's records kept in cookies, for adapters without a server-side session (Next's
 * Pages Router, and any fetch-style adapter): the guest cookie, the sign-in start (sealed and
 * tied to the OAuth `state` of its sign-in), the pending merge (sealed), the merge to retry after
 * an outage at the callback (sealed) and the sign-out CSRF token. The adapter only reads and writes cookies by name.
 */
import { randomBytes } from 'node:crypto';
import { guestCookieName } from './cookie.js';
import type { SignInPort, SignInSettings } from './flow.js';
import { type PortRecords, portRecords, type RecordName, type RecordStore } from './records.js';
import { RECOVERY_TTL_MS } from './recovery.js';
import type { Sealer } from './seal.js';
import { PENDING_MERGE_TTL_MS, type SignInStart } from './sign-in.js';

const TTL_MS: Readonly<Record<RecordName, number>> = {
  start: 30 * 60_000,
  pending: PENDING_MERGE_TTL_MS,
  recovery: RECOVERY_TTL_MS,
};
const CSRF_TTL_MS = 24 * 60 * 60_000;

/** How an adapter reads and writes one request's cookies (all HttpOnly, SameSite=Lax, `Path=/`). */
export interface CookieJar {
  get(name: string): string | undefined;
  /** Sets a cookie; an empty value with an expiry in the past deletes it. */
  set(name: string, value: string, expires: Date): void;
}

/** The records of {@link cookieRecords}: port methods, plus what only cookie adapters need. */
export type CookieRecords = Pick<SignInPort, 'guestToken' | 'clearGuestCookie'> &
  PortRecords & {
    setGuestCookie(token: string, expires: Date): void;
    /**
     * Writes the start record `saveStart` was given, tied to the `state` of the provider's
     * authorization URL `location`. The flow hands the record over before the SDK has chosen the
     * request's `state`, and the record is only worth writing tied to that `state`: a record
     * planted from another sign-in then cannot match the callback.
     */
    tieStart(location: string | undefined): void;
    csrfToken(create: boolean): string | undefined;
  };

interface SealedStart {
  readonly g: string | null;
  readonly o: boolean;
  readonly s: string;
}

/** The guest cookie over `jar`: read, set and delete. */
export type GuestCookieJar = Pick<
  CookieRecords,
  'guestToken' | 'setGuestCookie' | 'clearGuestCookie'
>;

/** The guest cookie of an app (`__Host-` prefixed over HTTPS) over `jar`. */
export function guestCookieJar(
  jar: CookieJar,
  settings: Pick<SignInSettings, 'cookieName' | 'secure'>,
): GuestCookieJar {
  const name = guestCookieName(settings.cookieName, settings.secure);
  return {
    guestToken: () => jar.get(name),
    setGuestCookie: (token, expires) => jar.set(name, token, expires),
    clearGuestCookie: () => jar.set(name, '', new Date(0)),
  };
}

/** The `state` parameter of an absolute URL (the authorization or the callback URL), or `null`. */
function stateOf(location: string | undefined): string | null {
  try {
    return location === undefined ? null : new URL(location).searchParams.get('state');
  } catch {
    return null; // Not an absolute URL: not the provider's authorization endpoint.
  }
}

/**
 * The records over `jar`, sealed with `sealer`, named after `settings.cookieName`; `requestUrl`
 * is the absolute URL of the request, whose `state` picks the start record at the callback.
 */
export function cookieRecords(
  jar: CookieJar,
  sealer: Sealer,
  settings: Pick<SignInSettings, 'cookieName' | 'secure'>,
  requestUrl?: string,
): CookieRecords {
  const cookie = (suffix: string) =>
    guestCookieName(`${settings.cookieName}${suffix}`, settings.secure);
  const names: Record<RecordName, string> = {
    start: cookie('-signin'),
    pending: cookie('-pending'),
    recovery: cookie('-recover'),
  };
  const csrf = cookie('-csrf');
  // The record's name is also the sealer's purpose: a record cannot pass for another.
  const store: RecordStore = {
    load: (name) => sealer.unseal(name, jar.get(names[name]), Date.now()),
    save(name, value) {
      const expires = Date.now() + TTL_MS[name];
      jar.set(names[name], sealer.seal(name, value, expires), new Date(expires));
    },
    clear(name) {
      // The recovery record is cleared on ordinary requests too: only a cookie that is there is
      // deleted, so those answers carry no Set-Cookie.
      if (name !== 'recovery' || jar.get(names[name]) !== undefined) {
        jar.set(names[name], '', new Date(0));
      }
    },
  };
  let starting: SignInStart | undefined;
  return {
    ...guestCookieJar(jar, settings),
    ...portRecords(store),
    loadStart() {
      const record = store.load('start') as SealedStart | undefined;
      const state = stateOf(requestUrl);
      return record && state !== null && record.s === state
        ? { guestId: record.g, sameOrigin: record.o === true }
        : undefined;
    },
    saveStart(record) {
      starting = record;
    },
    tieStart(location) {
      const state = stateOf(location);
      if (!state || !starting) return;
      store.save('start', { g: starting.guestId, o: starting.sameOrigin, s: state });
    },
    csrfToken(create) {
      const token = jar.get(csrf);
      if (token !== undefined || !create) return token;
      const made = randomBytes(24).toString('base64url');
      jar.set(csrf, made, new Date(Date.now() + CSRF_TTL_MS));
      return made;
    },
  };
}
