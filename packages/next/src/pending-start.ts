/**
 * The sign-in start record both Next ports hold back until the authorization request exists:
 * the flow hands it over before `@logto/next` has chosen the request's `state`, and the record
 * is only worth writing tied to that `state` (a record planted from another sign-in then cannot
 * match the callback).
 */
import type { CookieRecords, SignInStart } from '@guestmode/core/web';

/** The `state` parameter of an absolute URL (the authorization or the callback URL), or `null`. */
export function stateOf(location: string | undefined): string | null {
  try {
    return location === undefined ? null : new URL(location).searchParams.get('state');
  } catch {
    return null; // Not an absolute URL: not the provider's authorization endpoint.
  }
}

export interface PendingStart {
  /** The port's `saveStart`: keeps the record until {@link PendingStart.tieTo}. */
  saveStart(record: SignInStart): void;
  /** Writes the kept record, tied to the `state` of the authorization URL `location`. */
  tieTo(location: string | undefined): void;
}

export function pendingStart(records: Pick<CookieRecords, 'saveStart'>): PendingStart {
  let starting: SignInStart | undefined;
  return {
    saveStart(record) {
      starting = record;
    },
    tieTo(location) {
      const state = stateOf(location);
      if (state && starting) records.saveStart(starting, state);
    },
  };
}
