// Shared test fixtures for every Guestmode package (private; never a runtime dependency).
export {
  type AttackerRequest,
  type AttackerSite,
  autoSubmitForm,
  forcedNavigation,
  type SentRequest,
  startAttackerSite,
  visitAttack,
  watchRequests,
} from './attacker.js';
export { Browser, type BrowserOptions, type JarCookie, parseForm } from './browser.js';
export { CHROMIUM_ARGS, ensureChromium, launchBrowser } from './chromium.js';
export { type DebianProgram, ensureDebianPrograms } from './debian.js';
export { closeServer, listen } from './http.js';
export {
  decodeJwt,
  startTestIssuer,
  TEST_CLIENT_ID,
  TestIssuer,
  type TestIssuerAlg,
  type TestIssuerOptions,
  type TokenClaims,
  type TokenHeader,
} from './issuer.js';
export {
  createTestDatabase,
  type PostgresServer,
  type RestartPostgresOptions,
  type StartPostgresOptions,
  startPostgres,
  type TestDatabase,
} from './postgres.js';
export { freePort, randomId, type WaitForOptions, waitFor } from './util.js';
export { type ReceivedWebhook, startWebhookReceiver, type WebhookReceiver } from './webhooks.js';
