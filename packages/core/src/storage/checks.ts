import { timingSafeEqual } from 'node:crypto';
import { invalidGuestCredential } from '../credential.js';
import { GuestmodeError } from '../errors.js';
import type {
  GuestCredentialCheck,
  GuestRow,
  GuestTimes,
  MergeOutcome,
  MergeWork,
  StorageLimits,
} from './types.js';

// The checks every adapter makes inside its transactions, kept in one place so the adapters
// cannot drift apart on what "active", "mergeable" and "within limits" mean.

/** A write may only land in an active, unexpired guest. */
export function assertGuestActive(
  guest: Pick<GuestRow, 'secretHash' | 'mergedInto' | 'expiresAt'> | null,
  now: number,
  presentedHash?: Uint8Array,
): void {
  // A wrong secret learns nothing about the guest's state: it fails first, in constant time.
  if (
    !guest ||
    (presentedHash !== undefined &&
      (presentedHash.length !== guest.secretHash.length ||
        !timingSafeEqual(presentedHash, guest.secretHash)))
  ) {
    throw invalidGuestCredential();
  }
  if (guest.mergedInto !== null) {
    throw new GuestmodeError('guest_merged', 'This guest has been merged into an account.');
  }
  if (guest.expiresAt <= now) {
    throw new GuestmodeError('guest_expired', 'This guest session has expired.');
  }
}

/** The state checks of a merge, under the guest's lock. */
export function checkMergeable(guest: GuestRow | null, work: MergeWork): MergeOutcome | null {
  if (!guest) {
    throw invalidGuestCredential();
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

/**
 * The write path's guest step, shared by the adapters: check the guest (and the presented
 * credential), and say whether the expiry must slide; `extend` is the new expiry or undefined.
 */
export function guestWriteTimes(
  guest: Pick<GuestRow, 'secretHash' | 'mergedInto' | 'expiresAt' | 'createdAt'> | null,
  now: number,
  credential: GuestCredentialCheck | undefined,
): GuestTimes {
  assertGuestActive(guest, now, credential?.secretHash);
  const row = guest!;
  if (credential && row.expiresAt < credential.slideWhenBefore) {
    return { createdAt: row.createdAt, expiresAt: credential.slideTo, extended: true };
  }
  return { createdAt: row.createdAt, expiresAt: row.expiresAt, extended: false };
}
