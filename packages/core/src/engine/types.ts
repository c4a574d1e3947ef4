import type { AccessTokenVerifier, AccessTokenVerifierOptions } from '../access-token.js';
import type { EventsOptions } from '../events/types.js';
import type { MergeResult } from '../merge/plan.js';
import type { BuiltInRuleName, MergeRule } from '../merge/rules.js';
import type { GuestStorage, StoredAttribute } from '../storage/types.js';

export interface GuestmodeOptions {
  /** Where guests and attributes live: `openSqliteStorage(...)` or `openPostgresStorage(...)`. */
  readonly storage: GuestStorage;
  /**
   * How long a guest lives after its last activity: `30d` (default), `12h`, or seconds. The
   * expiry slides forward when less than half of it is left, so reads do not write.
   */
  readonly guestTtl?: string | number;
  readonly limits?: {
    /** Largest attribute value in bytes of JSON. Default 64 KiB. */
    readonly maxValueBytes?: number;
    /** Largest profile (all attributes of one guest or user) in bytes. Default 1 MiB. */
    readonly maxProfileBytes?: number;
    /** Most attributes in one profile. Default 256. */
    readonly maxAttributes?: number;
  };
  /**
   * Merge rule per attribute name: a built-in rule name or a function. A key ending in `*`
   * matches every attribute with that prefix (`"draft:*": "transfer"`); exact names win over
   * prefixes, longer prefixes over shorter ones.
   */
  readonly mergeRules?: Readonly<Record<string, BuiltInRuleName | MergeRule>>;
  /** The rule for attributes both profiles have and no rule names. Default `user-wins`. */
  readonly defaultMergeRule?: BuiltInRuleName | MergeRule;
  /** How to verify the provider's access tokens (needed by `verifyAccessToken`). */
  readonly accessTokens?: AccessTokenVerifierOptions | AccessTokenVerifier;
  /** The clock, in epoch milliseconds (tests move it). Default `Date.now`. */
  readonly now?: () => number;
  /**
   * The engine's own purge of expired guests, on a timer that starts with the engine and stops
   * with `close()` (it never keeps the process alive). On a PostgreSQL database several
   * processes share, one of them purges per round and the others skip it.
   */
  readonly purge?: {
    /** `false` switches the timer off (purge with `purgeRound()` or `purgeExpired()` yourself). */
    readonly enabled?: boolean;
    /** Milliseconds between rounds. Default one hour. */
    readonly intervalMs?: number;
    /** Called with a round's error. Default: one line on stderr. */
    readonly onError?: (error: unknown) => void;
    /** Called after a round that deleted guests. */
    readonly onPurged?: (deleted: number) => void;
  };
  /**
   * New guests allowed per client address (IPv4, or IPv6 by /64) in one fixed window, checked by
   * `limitGuestCreation()` (the web adapters and the service call it). Default
   * `{ max: 60, window: '1m' }`; `false` switches it off. Counted in the database when storage is
   * PostgreSQL, so all processes on it share one budget; in memory otherwise.
   */
  readonly guestCreationLimit?:
    | false
    | { readonly max?: number; readonly window?: string | number };
  /**
   * Guest lifecycle events (`guest.merged`, `guest.expired`, `guest.deleted`, `user.deleted`;
   * `guest.created` on request), written to an outbox in the transaction of the change and
   * delivered after the commit to `webhooks` and `onEvent`. Without a consumer nothing is written.
   */
  readonly events?: EventsOptions;
}

/** A guest as the app sees it. */
export interface Guest {
  readonly id: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export interface GuestSession {
  readonly guest: Guest;
  /**
   * True when this call extended the guest's lifetime: re-send the cookie so the browser's
   * copy expires with the guest.
   */
  readonly fresh: boolean;
  /** The guest's attributes as stored (JSON text); {@link toProfile} parses them. */
  readonly attributes: readonly StoredAttribute[];
}

export interface MergeOptions {
  /** The guest credential (`gm_...`) presented by the client. */
  readonly guestToken: string;
  /** The user's id, taken from a verified access token (`sub`), never from a request body. */
  readonly userId: string;
}

export interface MergeResponse {
  readonly result: MergeResult;
  /** The same result as JSON text, as stored (send it as it is instead of re-serialising). */
  readonly resultJson: string;
  /** True when this call only replayed an earlier merge of the same guest into the same user. */
  readonly replayed: boolean;
}

/** Parses stored attributes into a plain object (the profile's public shape). */
export function toProfile(attributes: readonly StoredAttribute[]): Record<string, unknown> {
  const profile: Record<string, unknown> = {};
  for (const a of attributes) profile[a.name] = JSON.parse(a.value);
  return profile;
}
