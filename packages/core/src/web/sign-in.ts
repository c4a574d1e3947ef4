/**
 * The sign-in merge flow without a web framework: which guest a sign-in started
 * with, what the callback does with the guest the browser holds (merge now, ask first, or
 * nothing), the pending record the confirm page works from, and the user's decision. Adapters
 * keep the records in their own place (a server-side session, a signed cookie) and translate
 * the outcomes into redirects and cookies.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { parseCredential } from '../credential.js';
import type { Guestmode } from '../engine.js';
import { GuestmodeError, type GuestmodeErrorCode, isGuestmodeError } from '../errors.js';
import type { MergePreview, MergeResult } from '../merge/plan.js';

/** How long a merge waits for the user's decision. */
export const PENDING_MERGE_TTL_MS = 15 * 60_000;

/** `never`: merge the browser's own guest in the callback; `on-conflict`: ask when rules conflict. */
export type ConfirmPolicy = 'never' | 'on-conflict';

/**
 * Checks the merge options every adapter shares, once at construction: `resource` (default: the
 * first of `resources`) must be one of `resources`, since the merge verifies an access token for
 * it; `confirm` is `never` (default) or `on-conflict`. Errors are `TypeError`s naming the option.
 */
export function checkMergeOptions(options: {
  readonly resource?: unknown;
  readonly resources?: readonly string[] | undefined;
  readonly confirm?: unknown;
}): { readonly resource: string; readonly confirm: ConfirmPolicy } {
  const resource = options.resource ?? options.resources?.[0];
  if (typeof resource !== 'string' || !options.resources?.includes(resource)) {
    throw new TypeError(
      'options.resource must be an API resource listed in options.logto.resources (the merge ' +
        'verifies an access token for it)',
    );
  }
  const confirm = options.confirm ?? 'never';
  if (confirm !== 'never' && confirm !== 'on-conflict') {
    throw new TypeError('options.confirm must be "never" or "on-conflict"');
  }
  return { resource, confirm };
}

/** Why a merge waits for the user's decision instead of happening in the callback. */
export type PendingMergeReason =
  /** The account already holds data the merge would replace or drop (`confirm: 'on-conflict'`). */
  | 'conflict'
  /**
   * The guest cookie at the callback is not the one this browser had when it started the
   * sign-in: it may have been planted. Merging someone else's guest would put their data in this
   * account, so the user decides.
   */
  | 'unbound'
  /**
   * The sign-in was started by a request from another site (a link, a form or a redirect on a
   * page the user may not trust): a sign-in someone else set off never merges without asking.
   */
  | 'cross_site';

/** What an adapter records when a sign-in starts, to compare at the callback. */
export interface SignInStart {
  /** The guest the browser held at the start ({@link signInGuestId}), or `null`. */
  readonly guestId: string | null;
  /** Whether the start request came from this app's own pages (see `requestSite`). */
  readonly sameOrigin: boolean;
}

/** A merge waiting for the user's decision, as the adapter stores it. */
export interface PendingMergeRecord {
  readonly guestId: string;
  readonly userId: string;
  /** The CSRF token the decision must post back. */
  readonly csrf: string;
  readonly reason: PendingMergeReason;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
  /**
   * Set when a retried merge (see `recovery.ts`) decided to ask, on a request that could not
   * send the user to the confirm page: the next page navigation goes there. Cleared when the
   * confirm page is shown.
   */
  readonly ask?: true;
}

/** A merge that happened, for `onMerge`. */
export interface MergeDone {
  readonly result: MergeResult;
  /** `true` when the guest had already been merged into this user (a retry). */
  readonly replayed: boolean;
}

/** What the sign-in callback does, from {@link completeSignIn}. */
export type SignInOutcome =
  | ({ readonly action: 'merged'; readonly clearCookie: true } & MergeDone)
  | {
      readonly action: 'confirm';
      readonly pending: PendingMergeRecord;
      readonly clearCookie: false;
    }
  /** No guest, or one that cannot be merged; `clearCookie` when the browser holds a dead one. */
  | { readonly action: 'nothing'; readonly clearCookie: boolean };

/** What the confirm decision did, from {@link applyMergeDecision}. */
export type DecisionOutcome =
  | ({ readonly action: 'merged'; readonly clearCookie: true } & MergeDone)
  | { readonly action: 'discarded'; readonly clearCookie: true }
  | { readonly action: 'nothing'; readonly clearCookie: boolean };

const DEAD_GUEST: ReadonlySet<GuestmodeErrorCode> = new Set([
  'invalid_guest_credential',
  'guest_expired',
  'guest_merged',
  'guest_already_merged',
]);

/** True for an error meaning "this guest can no longer be merged" (gone, expired, merged). */
export function isDeadGuestError(error: unknown): boolean {
  return isGuestmodeError(error) && DEAD_GUEST.has(error.code);
}

/**
 * The guest id to record when a sign-in starts: the id named by the browser's guest
 * credential, or `null` (no cookie, or one that does not parse). The callback merges without
 * asking only a guest that matches this record.
 */
export function signInGuestId(guestToken: string | undefined): string | null {
  return guestToken === undefined ? null : (parseCredential(guestToken)?.guestId ?? null);
}

/**
 * Merges, treating a guest that can no longer be merged as nothing to merge (`undefined`).
 * Other errors (storage down, a throwing rule) propagate.
 */
export async function mergeIfAlive(
  engine: Guestmode,
  guestToken: string,
  userId: string,
): Promise<MergeDone | undefined> {
  try {
    const { result, replayed } = await engine.merge({ guestToken, userId });
    return { result, replayed };
  } catch (error) {
    if (isDeadGuestError(error)) return undefined;
    throw error;
  }
}

/**
 * Decides at the sign-in callback, once the user is verified, what happens to the browser's
 * guest, and performs the merge when no question needs asking:
 *
 * - no guest cookie, a malformed one, or a guest that can no longer be merged: `nothing`
 *   (with `clearCookie` for a cookie that is there but dead);
 * - the cookie names a guest other than the one recorded at the start and the guest has data:
 *   `confirm` with reason `unbound` (a cookie planted during the sign-in is never merged silently);
 * - the start was not same-origin and the guest has data: `confirm` with reason `cross_site`;
 * - `confirm: 'on-conflict'` and the preview reports conflicts: `confirm` with `conflict`;
 * - otherwise `merged`.
 *
 * @param input.started what the adapter recorded at sign-in start, or `undefined` when there is
 *   no record for this sign-in (or it did not verify).
 * @example
 * ```ts
 * const outcome = await completeSignIn({ engine, guestToken, userId, started, confirm });
 * if (outcome.action === 'merged') await notifyMerge(onMerge, { ...outcome, via: 'callback' });
 * if (outcome.clearCookie) setCookie(clearedGuestCookie('guestmode', { secure }));
 * if (outcome.action === 'confirm') { savePending(outcome.pending); redirect(confirmPath); }
 * ```
 */
export async function completeSignIn(input: {
  readonly engine: Guestmode;
  readonly guestToken: string | undefined;
  readonly userId: string;
  readonly started: SignInStart | undefined;
  readonly confirm: ConfirmPolicy;
  readonly now?: number;
}): Promise<SignInOutcome> {
  const { engine, guestToken, userId } = input;
  if (guestToken === undefined) return { action: 'nothing', clearCookie: false };
  const guestId = parseCredential(guestToken)?.guestId;
  if (guestId === undefined) return { action: 'nothing', clearCookie: true };
  let preview: MergePreview;
  try {
    preview = await engine.previewMerge({ guestToken, userId });
  } catch (error) {
    if (isDeadGuestError(error)) return { action: 'nothing', clearCookie: true };
    throw error;
  }
  const reason = pendingReason(preview, input.started, guestId, input.confirm);
  if (reason === undefined) {
    const done = await mergeIfAlive(engine, guestToken, userId);
    return done
      ? { action: 'merged', clearCookie: true, ...done }
      : { action: 'nothing', clearCookie: true };
  }
  const pending: PendingMergeRecord = {
    guestId,
    userId,
    reason,
    csrf: randomBytes(24).toString('base64url'),
    expiresAt: (input.now ?? Date.now()) + PENDING_MERGE_TTL_MS,
  };
  return { action: 'confirm', pending, clearCookie: false };
}

function pendingReason(
  preview: MergePreview,
  started: SignInStart | undefined,
  guestId: string,
  confirm: ConfirmPolicy,
): PendingMergeReason | undefined {
  if (preview.alreadyMerged) return undefined;
  const empty = Object.keys(preview.before.guest).length === 0;
  if (!empty && started?.guestId !== guestId) return 'unbound';
  if (!empty && !started?.sameOrigin) return 'cross_site';
  return confirm === 'on-conflict' && preview.conflicts.length > 0 ? 'conflict' : undefined;
}

/** Constant-time comparison of two strings (CSRF tokens). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Checks the confirm form against the pending record: the CSRF token (constant time), then the
 * decision. Throws `csrf_failed` or `invalid_request`.
 */
export function checkMergeDecision(
  pending: Pick<PendingMergeRecord, 'csrf'>,
  form: { readonly csrf?: unknown; readonly decision?: unknown },
): 'merge' | 'discard' {
  checkCsrf(pending.csrf, form.csrf);
  if (form.decision !== 'merge' && form.decision !== 'discard') {
    throw new GuestmodeError('invalid_request', 'decision must be "merge" or "discard".');
  }
  return form.decision;
}

/** Throws `csrf_failed` unless `given` is the expected token (compared in constant time). */
export function checkCsrf(expected: string | undefined, given: unknown): void {
  if (expected === undefined || typeof given !== 'string' || !sameSecret(given, expected)) {
    throw new GuestmodeError('csrf_failed', 'The form has expired; please try again.');
  }
}

/**
 * Carries out the user's decision on a pending merge, once the adapter has checked the form
 * ({@link checkMergeDecision}) and that the signed-in user is still `pending.userId`. Nothing
 * happens when the browser's guest cookie no longer names the pending guest. `discard` deletes
 * the guest: a guest the user did not recognise (planted) or does not want must not linger in
 * the browser or the database until it expires.
 */
export async function applyMergeDecision(input: {
  readonly engine: Guestmode;
  readonly pending: Pick<PendingMergeRecord, 'guestId' | 'userId'>;
  readonly guestToken: string | undefined;
  readonly decision: 'merge' | 'discard';
}): Promise<DecisionOutcome> {
  const { engine, pending, guestToken } = input;
  if (guestToken === undefined || parseCredential(guestToken)?.guestId !== pending.guestId) {
    return { action: 'nothing', clearCookie: false };
  }
  if (input.decision === 'discard') {
    await engine.deleteGuest(guestToken);
    return { action: 'discarded', clearCookie: true };
  }
  const done = await mergeIfAlive(engine, guestToken, pending.userId);
  return done
    ? { action: 'merged', clearCookie: true, ...done }
    : { action: 'nothing', clearCookie: true };
}

/**
 * The preview a confirm page shows for a pending merge, or `undefined` when the browser's guest
 * cookie no longer names the pending guest or the guest can no longer be merged.
 */
export async function previewPendingMerge(input: {
  readonly engine: Guestmode;
  readonly pending: Pick<PendingMergeRecord, 'guestId' | 'userId'>;
  readonly guestToken: string | undefined;
}): Promise<MergePreview | undefined> {
  const { engine, pending, guestToken } = input;
  if (!guestToken || parseCredential(guestToken)?.guestId !== pending.guestId) return undefined;
  try {
    return await engine.previewMerge({ guestToken, userId: pending.userId });
  } catch (error) {
    if (isGuestmodeError(error) && error.status < 500) return undefined;
    throw error;
  }
}

/**
 * Calls an `onMerge` hook, ignoring what it throws: a metrics hook must not turn a completed
 * merge into an error page.
 */
export async function notifyMerge<E>(
  hook: ((event: E) => void | Promise<void>) | undefined,
  event: E,
): Promise<void> {
  try {
    await hook?.(event);
  } catch {
    // Deliberately ignored (see above).
  }
}
