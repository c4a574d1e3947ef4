import * as crypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { GuestmodeError } from './errors.js';

/**
 * Guest credentials are opaque `gm_<id>.<secret>` strings (the Lucia v3 scheme):
 * - `id`: 22 base64url characters, creation time then 84 random bits; it is public (the guest's id).
 * - `secret`: 256 random bits, base64url (43 chars); only its SHA-256 is stored.
 *
 * Verifying costs one hash and one constant-time comparison against the row that must be read
 * anyway (status, expiry, attributes), so there is no signature on the hot path, nothing to
 * forge without the database, and revocation (merge, expiry, purge) takes effect at once.
 * A JWT would still need that row read to refuse a merged guest, and would cost an asymmetric
 * signature per guest. See docs/architecture.md, "The guest credential".
 */
/** Every guest credential starts with it; no JWT can (a JWT starts with `eyJ`). */
export const GUEST_CREDENTIAL_PREFIX = 'gm_';
const PREFIX = GUEST_CREDENTIAL_PREFIX;
const ID_LENGTH = 22;
const SECRET_LENGTH = 43;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The shape of every guest credential (the OpenAPI document publishes its source). */
export const GUEST_CREDENTIAL_PATTERN = new RegExp(
  `^${PREFIX}[A-Za-z0-9_-]{${ID_LENGTH}}\\.[A-Za-z0-9_-]{${SECRET_LENGTH}}$`,
);

/**
 * What every refusal of a guest credential says, whether it is malformed, unknown, purged or has
 * the wrong secret: one message, so the answer does not tell an attacker which check failed.
 */
export const INVALID_GUEST_CREDENTIAL_MESSAGE = 'The guest credential is not valid.';

/** The `invalid_guest_credential` refusal. */
export function invalidGuestCredential(): GuestmodeError {
  return new GuestmodeError('invalid_guest_credential', INVALID_GUEST_CREDENTIAL_MESSAGE);
}

export interface ParsedCredential {
  readonly guestId: string;
  readonly secret: string;
}

// base64url's characters in ASCII order, so that encoded numbers sort like the numbers.
const ORDERED_ALPHABET = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
// 2^42, 2^36 ... 2^0: the eight 6-bit digits of the time (a 48-bit number exceeds 32-bit shifts).
const TIME_DIVISORS = Array.from({ length: 8 }, (_, i) => 2 ** (42 - 6 * i));

/**
 * A guest id: 8 characters of creation time (milliseconds, 48 bits, order-preserving) then 14
 * random characters (84 bits). Ids that grow with time are appended to the B-trees of both
 * tables instead of landing on random pages: on SQLite that made guest creation about four
 * times cheaper (docs/performance.md). The id is public anyway; the creation time it reveals is
 * the guest's own, and the 256-bit secret is what guards the guest.
 */
function newGuestId(now: number, random: Buffer): string {
  let prefix = '';
  for (const divisor of TIME_DIVISORS) {
    prefix += ORDERED_ALPHABET[Math.floor(now / divisor) % 64];
  }
  return prefix + random.toString('base64url').slice(0, 14);
}

// Randomness is drawn from the CSPRNG a pool at a time, as Node's randomUUID() does: one call
// into OpenSSL per 128 guests instead of one per guest. Every byte is used once.
const CREDENTIAL_BYTES = 43;
const POOL_BYTES = CREDENTIAL_BYTES * 128;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function credentialBytes(): Buffer {
  if (poolOffset + CREDENTIAL_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + CREDENTIAL_BYTES);
  poolOffset += CREDENTIAL_BYTES;
  return bytes;
}

export function generateCredential(now: number = Date.now()): {
  guestId: string;
  secret: string;
  token: string;
} {
  const bytes = credentialBytes();
  const guestId = newGuestId(now, bytes.subarray(0, 11));
  const secret = bytes.subarray(11).toString('base64url');
  return { guestId, secret, token: `${PREFIX}${guestId}.${secret}` };
}

/** Parses a presented credential; `null` when it cannot be one of ours (no database read). */
export function parseCredential(token: string): ParsedCredential | null {
  if (
    typeof token !== 'string' ||
    token.length !== PREFIX.length + ID_LENGTH + 1 + SECRET_LENGTH ||
    !token.startsWith(PREFIX) ||
    token.charCodeAt(PREFIX.length + ID_LENGTH) !== 0x2e /* . */
  ) {
    return null;
  }
  const guestId = token.slice(PREFIX.length, PREFIX.length + ID_LENGTH);
  const secret = token.slice(PREFIX.length + ID_LENGTH + 1);
  if (!BASE64URL.test(guestId) || !BASE64URL.test(secret)) return null;
  return { guestId, secret };
}

/**
 * True when a string is meant as a guest credential: the `gm_` prefix alone decides, since no
 * JWT can start with it (a JWT starts with its base64url header, `eyJ`). Whether it is a valid
 * one is {@link parseCredential}'s and the database's question.
 */
export function looksLikeGuestCredential(token: string): boolean {
  return typeof token === 'string' && token.startsWith(PREFIX);
}

// crypto.hash() (Node 20.12+) hashes in one call into OpenSSL, without the Hash object's
// allocations on every guest read. Older Node 20 releases fall back.
const oneShotHash = (
  crypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }
).hash;

export function hashSecret(secret: string): Buffer {
  return oneShotHash
    ? oneShotHash('sha256', secret, 'buffer')
    : createHash('sha256').update(secret).digest();
}

export function secretMatches(secret: string, storedHash: Uint8Array): boolean {
  const actual = hashSecret(secret);
  return storedHash.length === actual.length && timingSafeEqual(actual, storedHash);
}
