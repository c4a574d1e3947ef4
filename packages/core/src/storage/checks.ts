import { GuestmodeError } from '../errors.js';
import type { GuestRow, MergeOutcome, MergeWork, StorageLimits } from './types.js';

// The checks every adapter makes inside its transactions, kept in one place so the adapters
// cannot drift apart on what "active", "mergeable" and "within limits" mean.

/** a write may only land in an active, unexpired guest. */
export function assertGuestActive(guest: GuestRow | null, now: number): void {
  if (!guest) {
    throw new GuestmodeError('invalid_guest_credential', 'The guest credential is not valid.');
  }
  if (guest.mergedInto !== null) {
    throw new GuestmodeError('guest_merged', 'This guest has been merged into an account.');
  }
  if (guest.expiresAt <= now) {
    throw new GuestmodeError('guest_expired', 'This guest session has expired.');
  }
}

/** the state checks of a merge, under the guest's lock. */
export function checkMergeable(guest: GuestRow | null, work: MergeWork): MergeOutcome | null {
  if (!guest) {
    throw new GuestmodeError('invalid_guest_credential', 'The guest credential is not valid.');
  }
  if (guest.mergedInto !== null) {
    if (guest.mergedInto === work.userId && guest.mergeResult !== null) {
      return { status: 'replayed', result: guest.mergeResult };
    }
    throw new GuestmodeError(
      'guest_already_merged',
      'This guest has already been merged into another account.',
    );
  }
  if (guest.expiresAt <= work.now) {
    throw new GuestmodeError('guest_expired', 'This guest session has expired.');
  }
  return null;
}

export function assertWithinLimits(count: number, bytes: number, limits: StorageLimits): void {
  if (count > limits.maxAttributes) {
    throw new GuestmodeError(
      'too_many_attributes',
      `A profile holds at most ${limits.maxAttributes} attributes.`,
    );
  }
  if (bytes > limits.maxProfileBytes) {
    throw new GuestmodeError(
      'profile_too_large',
      `A profile holds at most ${limits.maxProfileBytes} bytes of attributes.`,
    );
  }
}
