import { randomBytes } from 'node:crypto';
import { GuestmodeError } from '@guestmode/core';
import type { PageErrorCode } from './i18n.js';
import { dummyHash, hashPassword, verifyPassword } from './password.js';
import type { SocialUserInfo } from './social/host.js';
import type { IdentityRow, Store, UserRow } from './store/types.js';

/**
 * User accounts: creation with validation, password sign-in, and social identities with the
 * connector's profile sync policy and the "never remove the last way in" rule.
 */

/** A validation failure on a form field; `page` is the localized message key. */
export class AccountInputError extends GuestmodeError {
  readonly page: PageErrorCode;

  constructor(page: PageErrorCode, message: string, code: 'invalid_request' | 'conflict') {
    super(code, message);
    this.name = 'AccountInputError';
    this.page = page;
  }
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;

/** Logto-style ids: 12 lowercase letters and digits. */
export function newUserId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(12);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

export function validateUsername(username: unknown): string {
  if (typeof username !== 'string' || username.trim() === '') {
    throw new AccountInputError('username_required', 'username is required', 'invalid_request');
  }
  if (!USERNAME.test(username)) {
    throw new AccountInputError(
      'username_invalid',
      'username must be 3 to 64 letters, digits, ".", "-" or "_", starting with a letter or digit',
      'invalid_request',
    );
  }
  return username;
}

export function validatePassword(password: unknown): string {
  if (typeof password !== 'string' || password === '') {
    throw new AccountInputError('password_required', 'password is required', 'invalid_request');
  }
  if (password.length < 8) {
    throw new AccountInputError(
      'password_too_short',
      'password must be at least 8 characters',
      'invalid_request',
    );
  }
  if (password.length > 256) {
    throw new AccountInputError(
      'password_too_long',
      'password must be at most 256 characters',
      'invalid_request',
    );
  }
  return password;
}

function optionalString(value: unknown, field: string, max = 256): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > max) {
    throw new GuestmodeError(
      'invalid_request',
      `${field} must be a string of at most ${max} characters`,
    );
  }
  return value;
}

/** The social profile fields a connector may sync into the user: what the social host returns. */
export type SocialProfile = SocialUserInfo;

function profilePatch(profile: SocialProfile) {
  const patch: Partial<Pick<UserRow, 'name' | 'email' | 'avatar'>> = {};
  if (profile.name) patch.name = profile.name;
  if (profile.avatar) patch.avatar = profile.avatar;
  if (profile.email) patch.email = profile.email;
  return patch;
}

function identityDetails(profile: SocialProfile): Record<string, unknown> {
  const { id, rawData, ...rest } = profile;
  return { id, ...rest, ...(rawData === undefined ? {} : { rawData }) };
}

export class Accounts {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Creates a username/password user. */
  async createUser(input: {
    username: unknown;
    password: unknown;
    name?: unknown;
    email?: unknown;
  }): Promise<UserRow> {
    const username = validateUsername(input.username);
    const password = validatePassword(input.password);
    const name = optionalString(input.name, 'name');
    const email = optionalString(input.email, 'email');
    if (email !== null && !/^[^\s@]+@[^\s@]+$/.test(email)) {
      throw new GuestmodeError('invalid_request', 'email must be an email address');
    }
    if (await this.#store.findUserByUsername(username)) {
      throw new AccountInputError('username_taken', 'username is already taken', 'conflict');
    }
    const now = Date.now();
    const user: UserRow = {
      id: newUserId(),
      username,
      passwordHash: await hashPassword(password),
      name,
      email,
      avatar: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.#store.insertUser(user);
    } catch (error) {
      // Two sign-ups racing for one name: the unique index decides.
      if (error instanceof GuestmodeError && error.code === 'conflict') {
        throw new AccountInputError('username_taken', 'username is already taken', 'conflict');
      }
      throw error;
    }
    return user;
  }

  /** Checks a username and password; `undefined` when either is wrong (not an exception). */
  async authenticate(username: string, password: string): Promise<UserRow | undefined> {
    const user = await this.#store.findUserByUsername(username);
    if (!user?.passwordHash) {
      // Spend the same time as a real check so unknown usernames are not revealed.
      await verifyPassword(password, await dummyHash());
      return undefined;
    }
    return (await verifyPassword(password, user.passwordHash)) ? user : undefined;
  }

  /**
   * Signs in (or up) with a social profile: finds the user by (target, identity id), or creates
   * one. Applies the connector's sync policy and stores the sealed token box when given.
   */
  async signInWithSocial(input: {
    target: string;
    profile: SocialProfile;
    syncProfile: 'on-sign-up' | 'on-every-sign-in';
    tokens?: string;
  }): Promise<{ user: UserRow; created: boolean }> {
    const now = Date.now();
    const existing = await this.#store.findIdentity(input.target, input.profile.id);
    if (existing) {
      await this.#store.upsertIdentity({
        ...existing,
        details: identityDetails(input.profile),
        // Keep the previous box when the connector returned no tokens this time.
        tokens: input.tokens ?? existing.tokens,
        updatedAt: now,
      });
      if (input.syncProfile === 'on-every-sign-in') {
        await this.#store.updateUserProfile(existing.userId, profilePatch(input.profile), now);
      }
      const user = await this.#store.findUser(existing.userId);
      if (!user) throw new GuestmodeError('not_found', 'the linked user no longer exists');
      return { user, created: false };
    }

    const patch = profilePatch(input.profile);
    const user: UserRow = {
      id: newUserId(),
      username: null,
      passwordHash: null,
      name: patch.name ?? null,
      email: patch.email ?? null,
      avatar: patch.avatar ?? null,
      createdAt: now,
      updatedAt: now,
    };
    await this.#store.insertUser(user, {
      userId: user.id,
      target: input.target,
      identityId: input.profile.id,
      details: identityDetails(input.profile),
      tokens: input.tokens ?? null,
      createdAt: now,
      updatedAt: now,
    });
    return { user, created: true };
  }

  /** Links a social identity to an existing user; the identity must not belong to another. */
  async linkIdentity(input: {
    userId: string;
    target: string;
    profile: SocialProfile;
    tokens?: string;
  }): Promise<IdentityRow> {
    const owner = await this.#store.findIdentity(input.target, input.profile.id);
    if (owner && owner.userId !== input.userId) {
      throw new GuestmodeError('conflict', 'this social account is linked to another user');
    }
    const now = Date.now();
    const row: IdentityRow = {
      userId: input.userId,
      target: input.target,
      identityId: input.profile.id,
      details: identityDetails(input.profile),
      tokens: input.tokens ?? owner?.tokens ?? null,
      createdAt: owner?.createdAt ?? now,
      updatedAt: now,
    };
    await this.#store.upsertIdentity(row);
    return row;
  }

  /**
   * Unlinks a social identity. Refuses to remove the last way to sign in (a user without a
   * password and with this single identity) unless `force` (administrators may).
   */
  async unlinkIdentity(userId: string, target: string, options: { force?: boolean } = {}) {
    const outcome = await this.#store.unlinkIdentity(userId, target, {
      keepLast: !options.force,
    });
    if (outcome === 'no_user') throw new GuestmodeError('not_found', 'no such user');
    if (outcome === 'no_identity') {
      throw new GuestmodeError('not_found', `the user has no identity for ${target}`);
    }
    if (outcome === 'last') {
      throw new GuestmodeError(
        'last_sign_in_method',
        'this identity is the only way to sign in; set a password or link another account first',
      );
    }
  }
}
