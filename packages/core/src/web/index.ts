/**
 * `@guestmode/core/web`: the framework-free half of every web integration, and only what the
 * adapters use: guest cookies as data, the per-request guest accessor, which site a request comes
 * from, and the whole sign-in flow over a small port (start, callback, confirm, sign-out).
 * `@guestmode/express` and `@guestmode/next` only translate requests and responses.
 *
 * @packageDocumentation
 */
export {
  type CookieAttributes,
  type CookieData,
  checkCookieName,
  clearedGuestCookie,
  DEFAULT_COOKIE_NAME,
  guestCookie,
  guestCookieName,
  readCookie,
  serializeCookie,
} from './cookie.js';
export {
  type CookieJar,
  type CookieRecords,
  cookieRecords,
  type GuestCookieJar,
  guestCookieJar,
} from './cookie-records.js';
export {
  type CookieAdapterOptions,
  type CookieAdapterSetup,
  checkCookieAdapterOptions,
  createGuestApiFlow,
} from './cookie-setup.js';
export {
  checkBaseUrl,
  checkEngine,
  checkEngineOption,
  checkSignInOptions,
  createSignInFlow,
  type MergeNotice,
  type PendingMerge,
  pathOption,
  type SignInFlow,
  type SignInOptions,
  type SignInPort,
  type SignInRoute,
  type SignInSettings,
} from './flow.js';
export {
  type GuestAccessor,
  type GuestDataExport,
  type GuestKind,
  type GuestProfileView,
  type GuestRequest,
  openGuestAccessor,
  signedInUserId,
} from './guest.js';
export { type GuestApiRequest, handleGuestApi } from './guest-api.js';
export { type LogtoCallbackClient, logtoCallbackCalls } from './logto-calls.js';
export type { MergeWait, MergeWaitOptions } from './merge-wait.js';
export { createNodeMetricsHandler, type MetricsHandlerOptions } from './metrics.js';
export {
  MAX_FORM_BYTES,
  nodeClientKeyReader,
  nodeRequestFacts,
  readBody,
  readForm,
  readJson,
} from './node.js';
export { appendCookie, nodeCookieJar, readRequestCookie } from './node-cookies.js';
export { renderConfirmPage, renderSignOutPage } from './pages.js';
export { type PortRecords, sessionRecords } from './records.js';
export {
  isTemporaryFailure,
  RECOVERY_RETRY_INTERVAL_MS,
  type RecoveryRecord,
} from './recovery.js';
export { openRequestGuest, type RequestGuest, type RequestGuestInit } from './request-guest.js';
export { guestApiFlowRoute, SIGN_IN_ACTIONS, signInRoutes } from './routes.js';
export { createSealer, type Sealer } from './seal.js';
export type {
  PendingMergeReason,
  PendingMergeRecord,
  SignInStart,
} from './sign-in.js';
export { isPageNavigation, type RequestFacts, requestSite } from './site.js';
