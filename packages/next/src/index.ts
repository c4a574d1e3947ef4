/**
 * `@guestmode/next`: guest mode for Next.js (Pages Router) apps beside `@logto/next`: the guest
 * of every API route and `getServerSideProps`, a guest API for `useGuest()`
 * (`@guestmode/next/client`), and the merge at `/api/logto/sign-in-callback`.
 *
 * @packageDocumentation
 */
export {
  appendCookie,
  DEFAULT_COOKIE_NAME,
  readRequestCookie as readCookie,
} from '@guestmode/core/web';
export { createMetricsHandler, type GuestmodeMetricsOptions } from './metrics.js';
export {
  createGuestmodeNext,
  type GuestAccessor,
  type GuestApiRequest,
  type GuestContext,
  type GuestmodeNext,
  type GuestmodeNextOptions,
  type MergeEvent,
  type NextRequestLike,
  type PendingMerge,
  type PendingMergeReason,
} from './server.js';
export type { GuestApiErrorBody, GuestKind, GuestProfile } from './types.js';
