/**
 * Social sign-in for the local provider: hosts Logto's own connector packages (generic OAuth 2.0
 * and Amazon), encrypts stored upstream tokens, enforces unique IdP names, and ships a
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
