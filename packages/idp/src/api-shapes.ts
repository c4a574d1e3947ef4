import type { IdentityRow, UserRow } from './store/types.js';

/** The public JSON of a user: never the password hash. */
export function userJson(user: UserRow) {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    primaryEmail: user.email,
    avatar: user.avatar,
    hasPassword: user.passwordHash !== null,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}

/** The public JSON of an identity: never the sealed token box, only whether one exists. */
export function identityJson(identity: IdentityRow) {
  return {
    target: identity.target,
    userId: identity.identityId,
    details: identity.details,
    hasStoredTokens: identity.tokens !== null,
    createdAt: identity.createdAt,
    updatedAt: identity.updatedAt,
  };
}
