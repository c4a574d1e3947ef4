import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GuestmodeError, optionError } from '@guestmode/core';

/** The environment variable {@link TokenVault.fromEnv} reads. */
export const VAULT_KEY_ENV = 'GUESTMODE_IDP_VAULT_KEY';

// The version prefix lets a later format (or key rotation with key ids) coexist with old boxes.
// v1 boxes were sealed without an owner, so any row could hold any box; they are refused.
const VERSION = 'v2';
const UNBOUND_VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Bound as additional authenticated data so a box cannot be replayed under another version.
const BASE_AAD = `guestmode-idp-vault:${VERSION}`;

/**
 * The associated data that binds a box of social tokens to the identity it belongs to: the
 * connector target and the upstream account id. A `(target, identity id)` pair is unique and
 * belongs to exactly one user, so a box copied into another user's row, or another connector's
 * row of the same user, does not open.
 */
export function tokenBoxOwner(target: string, identityId: string): string {
  return `identity\0${target}\0${identityId}`;
}

/**
 * Encrypts social provider tokens at rest: AES-256-GCM with a random 96-bit IV per box, and the
 * box's owner as associated data. A box is `v2.<base64url(iv ‖ tag ‖ ciphertext)>`, so it fits
 * in a text column and never contains the plaintext.
 *
 * @example
 * ```ts
 * const vault = TokenVault.fromEnv(); // undefined when GUESTMODE_IDP_VAULT_KEY is unset
 * const box = vault?.encrypt(JSON.stringify(tokens), tokenBoxOwner('github', '12345'));
 * ```
 */
export class TokenVault {
  readonly #key: Buffer;

  /** @param key - exactly 32 random bytes. Keep it out of the database the boxes live in. */
  constructor(key: Buffer) {
    if (!Buffer.isBuffer(key) || key.length !== 32) {
      throw new TypeError('TokenVault key must be a Buffer of exactly 32 bytes');
    }
    // Copy so a caller zeroing or reusing its buffer cannot change the vault's key.
    this.#key = Buffer.from(key);
  }

  /** A fresh random key, base64url encoded, suitable for `GUESTMODE_IDP_VAULT_KEY`. */
  static generateKey(): string {
    return randomBytes(32).toString('base64url');
  }

  /**
   * Builds a vault from `GUESTMODE_IDP_VAULT_KEY` (32 bytes as base64url or hex).
   *
   * @returns `undefined` when the variable is unset or empty (token storage is then off).
   * @throws TypeError naming the variable, never echoing its value: the key is the operator's
   *   setting, not a client's input.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): TokenVault | undefined {
    const raw = env[VAULT_KEY_ENV]?.trim();
    if (!raw) return undefined;
    let key: Buffer | undefined;
    if (/^[0-9a-fA-F]{64}$/.test(raw)) {
      key = Buffer.from(raw, 'hex');
    } else if (/^[A-Za-z0-9_-]{43}=?$/.test(raw)) {
      key = Buffer.from(raw.replace(/=$/, ''), 'base64url');
    }
    if (key?.length !== 32) {
      throw optionError(
        VAULT_KEY_ENV,
        `must be 32 bytes encoded as base64url (43 characters) or hex (64 characters); ` +
          `generate one with: node -e "console.log(require('node:crypto').randomBytes(32).toString('base64url'))"`,
      );
    }
    return new TokenVault(key);
  }

  /**
   * Seals `plaintext`.
   *
   * @param associatedData - the box's owner (see {@link tokenBoxOwner}), which must be given
   *   again to decrypt; it stops a box from being copied to another row.
   */
  encrypt(plaintext: string, associatedData: string): string {
    if (typeof associatedData !== 'string' || associatedData === '') {
      throw new TypeError('TokenVault.encrypt needs the owner as associated data');
    }
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(`${BASE_AAD}\0${associatedData}`, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${VERSION}.${Buffer.concat([iv, tag, ciphertext]).toString('base64url')}`;
  }

  /**
   * Opens a box made by {@link TokenVault.encrypt}.
   *
   * @throws GuestmodeError `vault_decrypt_failed` when the box is malformed, tampered with, sealed
   *   with another key or with other associated data.
   */
  decrypt(box: string, associatedData: string): string {
    const fail = (cause?: unknown) =>
      new GuestmodeError(
        'vault_decrypt_failed',
        'The encrypted token box could not be opened (tampered, truncated, or another key)',
        { cause },
      );
    if (typeof box !== 'string') throw fail();
    if (box.startsWith(`${UNBOUND_VERSION}.`)) {
      throw new GuestmodeError(
        'vault_decrypt_failed',
        'The token box was sealed before boxes were bound to their owner and is no longer opened; sign in with the connector again to store fresh tokens',
      );
    }
    const dot = box.indexOf('.');
    if (dot === -1 || box.slice(0, dot) !== VERSION) throw fail();
    const body = box.slice(dot + 1);
    if (!/^[A-Za-z0-9_-]+$/.test(body)) throw fail();
    const bytes = Buffer.from(body, 'base64url');
    if (bytes.length < IV_BYTES + TAG_BYTES) throw fail();
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(`${BASE_AAD}\0${associatedData}`, 'utf8'));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plaintext = Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]);
      return plaintext.toString('utf8');
    } catch (cause) {
      throw fail(cause);
    }
  }
}
