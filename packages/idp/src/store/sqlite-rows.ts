import { GuestmodeError } from '@guestmode/core';
import type { ApplicationRow, IdentityRow, ModelRow, UserRow } from './types.js';

/** Mapping between SQLite rows (snake_case, JSON text) and the store's records. */

export type Row = Record<string, unknown>;

export const json = <T>(text: unknown): T => JSON.parse(String(text)) as T;
export const nullableString = (value: unknown) => (value == null ? null : String(value));

export function toApplication(row: Row): ApplicationRow {
  return {
    id: String(row.id),
    name: String(row.name),
    secret: String(row.secret),
    type: row.type as ApplicationRow['type'],
    redirectUris: json(row.redirect_uris),
    postLogoutRedirectUris: json(row.post_logout_redirect_uris),
    createdAt: Number(row.created_at),
  };
}

export function toUser(row: Row): UserRow {
  return {
    id: String(row.id),
    username: nullableString(row.username),
    passwordHash: nullableString(row.password_hash),
    name: nullableString(row.name),
    email: nullableString(row.email),
    avatar: nullableString(row.avatar),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function toIdentity(row: Row): IdentityRow {
  return {
    userId: String(row.user_id),
    target: String(row.target),
    identityId: String(row.identity_id),
    details: json(row.details),
    tokens: nullableString(row.tokens),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function toModel(row: Row): ModelRow {
  return {
    payload: json(row.payload),
    consumedAt: row.consumed_at == null ? null : Number(row.consumed_at),
  };
}

/** Turns SQLite's unique-constraint failure into a caller-facing conflict. */
export function conflictOnUnique<T>(what: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
      throw new GuestmodeError('conflict', `${what} already exists`, { cause: error });
    }
    throw error;
  }
}
