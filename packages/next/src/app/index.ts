/**
 * `@guestmode/next/app`: guest mode for Next.js App Router apps beside
 * `@logto/next/server-actions`: the guest of Server Components (read only), Server Actions and
 * Route Handlers, the sign-in routes with the merge at the callback, and the guest API
 * `useGuest()` (`@guestmode/next/client`) talks to. Server only, Node.js runtime only.
 *
 * @packageDocumentation
 */
import { assertNodeServer } from './guard.js';

assertNodeServer();

export type { PendingMerge, PendingMergeReason } from '@guestmode/core/web';
export type { GuestApiErrorBody, GuestKind, GuestProfile } from '../types.js';
export type { AppGuest } from './guest.js';
export {
  type AppMergeEvent,
  createGuestmodeApp,
  type GuestmodeApp,
  type GuestmodeAppOptions,
  type RouteHandler,
} from './server.js';
