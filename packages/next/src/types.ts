/**
 * Shapes shared by the server helpers and the browser hook. Type-only imports: no server code
 * reaches the browser bundle.
 */
export type { ErrorBody as GuestApiErrorBody } from '@guestmode/core';
export type { GuestKind, GuestProfileView as GuestProfile } from '@guestmode/core/web';
