/**
 * `@guestmode/idp`: a local, Logto-compatible OpenID provider for development, demos and tests.
 *
 * @packageDocumentation
 */

// The provider's refusals are core's one error type; re-exported so `instanceof` needs no
// second import.
export { GuestmodeError, type GuestmodeErrorCode, isGuestmodeError } from '@guestmode/core';
export type { IssueAccessTokenInput, IssuedAccessToken } from './access-token.js';
export type { AccountInputError } from './accounts.js';
export { type CliIo, runIdpCli } from './cli.js';
export type { IdpOptions } from './config.js';
export {
  type ApplicationCredentials,
  type CreateApplicationInput,
  type CreateResourceInput,
  type CreateUserInput,
  createIdp,
  DEV_WARNING,
  Idp,
  MANAGEMENT_RESOURCE,
  MANAGEMENT_SCOPE,
} from './idp.js';
export { hashPassword, verifyPassword } from './password.js';
export {
  type ConnectorFactoryId,
  type ConnectorRecord,
  type DevUpstream,
  type DevUpstreamOptions,
  type DevUpstreamUser,
  parseConnectorRecord,
  type StoredSocialTokens,
  startDevUpstream,
  TokenVault,
  tokenBoxOwner,
  VAULT_KEY_ENV,
} from './social/index.js';
export type { Store } from './store/types.js';
