/**
 * `@guestmode/core/web`: the framework-free half of every web integration. Guest cookies as
 * data, the per-request guest accessor, and the sign-in merge flow (record the starting guest,
 * decide at the callback, the pending merge and its decision). Plain inputs in, plain decisions
 * out; `@guestmode/express` and `@guestmode/next` only translate requests and responses.
 *
 * @packageDocumentation
 */
export {
  type CookieAttributes,
  type CookieData,
  checkCookieName,
  clearedGuestCookie,
  DEFAULT_COOKIE_NAME,
  guestCookie,
  guestCookieName,
  httpOnlyCookie,
  readCookie,
  serializeCookie,
} from './cookie.js';
export {
  createGuestAccessor,
  type GuestAccessor,
  type GuestAccessorInit,
  type GuestCookieChange,
  type GuestProfileView,
  type OpenedGuest,
  openGuest,
} from './guest.js';
export {
  applyMergeDecision,
  type ConfirmPolicy,
  checkMergeDecision,
  checkMergeOptions,
  completeSignIn,
  type DecisionOutcome,
  isAllowedOrigin,
  isDeadGuestError,
  type MergeDone,
  mergeIfAlive,
  notifyMerge,
  PENDING_MERGE_TTL_MS,
  type PendingMergeReason,
  type PendingMergeRecord,
  previewPendingMerge,
  renderConfirmPage,
  type SignInOutcome,
  sameSecret,
  signInGuestId,
} from './sign-in.js';
