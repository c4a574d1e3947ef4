import { randomBytes } from 'node:crypto';
import { GuestmodeError } from '@guestmode/core';
import { loadOrCreateKeys } from './keys.js';
import { createOidcProvider, MANAGEMENT_RESOURCE, resourceServerInfo } from './provider.js';
import type { Store, UserRow } from './store/types.js';

/** What {@link Idp.issueAccessToken} needs: who, for which API, and optionally how. */
export interface IssueAccessTokenInput {
  /** The user's id, username or email (an email must belong to one user only). */
  user: string;
  /** A registered API resource's indicator; it becomes the token's audience. */
  resource: string;
  /** Scopes to grant, each one of the resource's. Default: every scope of the resource. */
  scopes?: string[];
  /** The traditional web application the token is issued to. Default: the oldest one. */
  appId?: string;
}

/** An access token and what it says, so scripts need not decode it. */
export interface IssuedAccessToken {
  accessToken: string;
  tokenType: 'Bearer';
  /** Seconds until it expires. */
  expiresIn: number;
  issuer: string;
  audience: string;
  userId: string;
  clientId: string;
  scope: string;
}

async function findUser(store: Store, user: string): Promise<UserRow> {
  const found = (await store.findUser(user)) ?? (await store.findUserByUsername(user));
  if (found) return found;
  const byEmail = await store.findUsersByEmail(user, 2);
  if (byEmail.length > 1) {
    throw new GuestmodeError(
      'conflict',
      'several users have this email; name the user by id or username',
    );
  }
  if (!byEmail[0]) throw new GuestmodeError('not_found', 'no user has this id, username or email');
  return byEmail[0];
}

/**
 * Signs an access token for a user and an API resource the way a sign-in through the provider
 * would get one: oidc-provider itself builds and signs it with the provider's persisted keys,
 * so it verifies against the provider's JWKS like any token from the token endpoint. Nothing is
 * stored (JWT access tokens live in the token only).
 */
export async function issueAccessToken(
  store: Store,
  issuer: string,
  input: IssueAccessTokenInput,
): Promise<IssuedAccessToken> {
  if (input.resource === MANAGEMENT_RESOURCE) {
    throw new GuestmodeError(
      'forbidden',
      'the management API is for machine-to-machine apps (client credentials)',
    );
  }
  const resource = await store.findResource(input.resource);
  if (!resource) {
    throw new GuestmodeError(
      'not_found',
      `unknown resource ${input.resource}; register it first (resource create)`,
    );
  }
  const scopes = input.scopes ?? resource.scopes;
  const unknown = scopes.filter((scope) => !resource.scopes.includes(scope));
  if (unknown.length > 0) {
    throw new GuestmodeError(
      'invalid_request',
      `scope ${unknown.join(', ')} is not a scope of ${resource.indicator}`,
    );
  }
  const user = await findUser(store, input.user);
  const app =
    input.appId === undefined
      ? await store.firstApplication('traditional')
      : await store.findApplication(input.appId);
  if (app?.type !== 'traditional') {
    throw new GuestmodeError(
      'not_found',
      input.appId === undefined
        ? 'no traditional web app is registered; register one first (app create)'
        : `no traditional web app has the id ${input.appId}`,
    );
  }

  const keys = await loadOrCreateKeys(store);
  const provider = createOidcProvider({ issuer, store, keys, secure: false });
  const client = await provider.Client.find(app.id);
  if (!client) throw new GuestmodeError('not_found', `no traditional web app has the id ${app.id}`);
  const scope = [...new Set(scopes)].join(' ');
  const token = new provider.AccessToken({
    accountId: user.id,
    client,
    scope,
    resourceServer: new provider.ResourceServer(resource.indicator, resourceServerInfo(resource)),
    // oidc-provider keeps these for stored tokens; a JWT access token carries neither, and no
    // grant exists behind a token made here.
    gty: 'guestmode-idp token',
    grantId: `cli-${randomBytes(12).toString('base64url')}`,
  });
  const accessToken = await token.save();
  return {
    accessToken,
    tokenType: 'Bearer',
    expiresIn: resource.accessTokenTtl,
    issuer,
    audience: resource.indicator,
    userId: user.id,
    clientId: app.id,
    scope,
  };
}
