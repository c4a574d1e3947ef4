/**
 * Social sign-in for the local provider: hosts Logto's own connector packages (R17, R18),
 * encrypts stored upstream tokens (R20), enforces unique IdP names (R22), and ships a
 * development-only upstream for offline demos and tests.
 *
 * @packageDocumentation
 */
export {
  type ConnectorFactoryId,
  type ConnectorRecord,
  parseConnectorRecord,
} from './connectors.js';
export {
  type DevUpstream,
  type DevUpstreamOptions,
  type DevUpstreamUser,
  startDevUpstream,
} from './dev-upstream.js';
export {
  type SocialButton,
  SocialHost,
  type SocialUserInfo,
  type StoredSocialTokens,
} from './host.js';
export { TokenVault, tokenBoxOwner, VAULT_KEY_ENV } from './vault.js';
