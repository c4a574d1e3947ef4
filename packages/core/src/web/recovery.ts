/**
 * Recovery of a merge that failed at the sign-in callback for a temporary reason (the database
 * or the provider's keys briefly unreachable). The user is signed in by then (the provider's
 * tokens are stored), so instead of losing the guest the flow records which guest this browser
 * signed in with and for whom, keeps the guest cookie, and retries the merge on the signed-in
 * session's next requests until it succeeds or the guest can no longer be merged.
 */

import { parseCredential } from '../credential.js';
import type { Guestmode } from '../engine.js';
import { isGuestmodeError } from '../errors.js';
import type { SignInPort } from './flow.js';
import {
  type ConfirmPolicy,
  completeSignIn,
  type MergeDone,
  type SignInOutcome,
  type SignInStart,
} from './sign-in.js';

/** A merge waiting to be retried, as the adapter stores it (sealed when kept in a cookie). */
export interface RecoveryRecord {
  readonly guestId: string;
  /** The signed-in user the guest goes to (the ID token's `sub` at the callback). */
  readonly userId: string;
  /** What the sign-in start recorded, so the retry decides exactly as the callback would have. */
  readonly started: SignInStart | null;
  /** Epoch milliseconds; past it the record is dropped (the guest cookie stays). */
  readonly expiresAt: number;
}

/**
 * How long a recovery record lives. Longer than any outage worth waiting for; a guest that
 * expires first ends the recovery at the next retry.
 */
export const RECOVERY_TTL_MS = 7 * 24 * 60 * 60_000;

/** The least time between two retries of the same guest's merge (per process). */
export const RECOVERY_RETRY_INTERVAL_MS = 5_000;

/** Guests whose next retry time is remembered; past it, the oldest entries are forgotten. */
const MAX_THROTTLED = 10_000;

/**
 * True for a failure that may pass by itself: the database is unreachable, or the provider's
 * discovery document or JWKS could not be fetched. A refused token or a guest merged into
 * someone else is not temporary.
 */
export function isTemporaryFailure(error: unknown): boolean {
  return (
    isGuestmodeError(error) &&
    (error.code === 'storage_unavailable' || error.code === 'provider_unavailable')
  );
}

/** What the flow gives the recovery: the engine, its merge policy and its merge reporter. */
export interface RecoveryConfig {
  readonly engine: Guestmode | Promise<Guestmode>;
  readonly resource: string;
  readonly confirm: ConfirmPolicy;
  readonly now?: () => number;
}

/** The recovery made by {@link createMergeRecovery}. */
export interface MergeRecovery {
  /**
   * Records, after a temporary failure at the callback, that the browser's guest is to be merged
   * into `userId`. Nothing is recorded without a well-formed guest cookie.
   */
  defer(port: SignInPort, userId: string, started: SignInStart | undefined): void;
  /**
   * Whether a merge is waiting for this signed-in session; with `retry` (a request that may write
   * cookies), first retries it when the last attempt is old enough. `onOutcome` gets what a
   * retry decided (a merge, a confirmation to ask, or nothing).
   */
  resume(
    port: SignInPort,
    retry: boolean,
    onOutcome: (outcome: SignInOutcome & Partial<MergeDone>) => Promise<void>,
  ): Promise<boolean>;
}

export function createMergeRecovery(config: RecoveryConfig): MergeRecovery {
  const now = config.now ?? Date.now;
  // Next allowed attempt per guest id. In memory: several processes may each retry once per
  // interval, which the merge's exactly-once transaction makes harmless.
  const nextAttempt = new Map<string, number>();
  // Guests merged by a retry whose cookies could not be cleared (a Server Component cannot write
  // cookies): later requests clear them without merging or reporting again.
  const merged = new Set<string>();
  const makeRoom = (set: Set<string> | Map<string, number>) => {
    if (set.size >= MAX_THROTTLED) set.delete(set.keys().next().value as string);
  };

  const throttled = (guestId: string): boolean => {
    const at = now();
    const next = nextAttempt.get(guestId);
    if (next !== undefined && next > at) return true;
    nextAttempt.delete(guestId);
    makeRoom(nextAttempt);
    nextAttempt.set(guestId, at + RECOVERY_RETRY_INTERVAL_MS);
    return false;
  };

  const attempt = async (port: SignInPort, record: RecoveryRecord, guestToken: string) => {
    const engine = await config.engine;
    // The callback may not have verified the access token (the keys were unreachable).
    const { userId } = await engine.verifyAccessToken(await port.getAccessToken(config.resource));
    if (userId !== record.userId) return undefined;
    return completeSignIn({
      engine,
      guestToken,
      userId,
      started: record.started ?? undefined,
      confirm: config.confirm,
    });
  };

  return {
    defer(port, userId, started) {
      const guestId = parseCredential(port.guestToken() ?? '')?.guestId;
      if (guestId === undefined) return;
      port.saveRecovery({
        guestId,
        userId,
        started: started ?? null,
        expiresAt: now() + RECOVERY_TTL_MS,
      });
      // The next request may retry at once: the outage may already be over.
      nextAttempt.delete(guestId);
    },

    async resume(port, retry, onOutcome) {
      const record = port.loadRecovery();
      if (!record) return false;
      const guestToken = port.guestToken();
      const current =
        record.expiresAt > now() &&
        guestToken !== undefined &&
        parseCredential(guestToken)?.guestId === record.guestId &&
        (await port.userId()) === record.userId;
      if (!current) {
        if (retry) port.clearRecovery();
        return false;
      }
      if (merged.has(record.guestId)) {
        if (retry) {
          port.clearGuestCookie();
          finish(port, record.guestId, false);
        }
        return false;
      }
      if (!retry || throttled(record.guestId)) return true;
      let outcome: Awaited<ReturnType<typeof attempt>>;
      try {
        outcome = await attempt(port, record, guestToken);
      } catch (error) {
        // Only a refusal ends the recovery; an outage, or the SDK failing to reach the provider
        // for a fresh access token, is retried later.
        if (isGuestmodeError(error) && !isTemporaryFailure(error)) {
          port.clearRecovery();
          return false;
        }
        return true;
      }
      nextAttempt.delete(record.guestId);
      if (outcome) await onOutcome(outcome);
      finish(port, record.guestId, outcome !== undefined && outcome.action === 'merged');
      return false;
    },
  };

  /** Clears the record; remembers a merged guest whose cookies stayed (a read-only request). */
  function finish(port: SignInPort, guestId: string, justMerged = true): void {
    port.clearRecovery();
    if (port.loadRecovery() === undefined) {
      merged.delete(guestId);
      return;
    }
    if (!justMerged) return;
    makeRoom(merged);
    merged.add(guestId);
  }
}
