/**
 * `@guestmode/express`: `req.guest` for every request and the merge of a visitor's guest into
 * their account at Logto sign-in, beside the official `@logto/express` SDK.
 *
 * @packageDocumentation
 */

export {
  type CookieAttributes,
  type CookieData,
  clearedGuestCookie,
  DEFAULT_COOKIE_NAME,
  guestCookie,
  guestCookieName,
  readCookie,
} from '@guestmode/core/web';
export {
  type GuestmodeAuthRoutesOptions,
  getCsrfToken,
  getPendingMerge,
  handleGuestmodeAuthRoutes,
  type MergeEvent,
  type PendingMerge,
  type PendingMergeReason,
} from './auth-routes.js';
export { type GuestAccessor, type GuestmodeMiddlewareOptions, guestmode } from './guest.js';
export { SessionStorage } from './internal.js';
export { type GuestmodeMetricsOptions, guestmodeMetrics } from './metrics.js';
