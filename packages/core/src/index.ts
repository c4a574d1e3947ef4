/**
 * Guestmode core: guest sessions, anonymous profiles and the exactly-once merge of a guest into
 * an OpenID Connect user. Framework-free; storage adapters are in `@guestmode/core/sqlite` and
 * `@guestmode/core/postgres`.
 *
 * @packageDocumentation
 */

export {
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  createAccessTokenVerifier,
  DEFAULT_ACCESS_TOKEN_ALGORITHMS,
  type VerifiedAccessToken,
} from './access-token.js';
export {
  ATTRIBUTE_NAME_PATTERN,
  ATTRIBUTE_NAME_RULE,
  isValidAttributeName,
  MAX_JSON_DEPTH,
  RawJson,
} from './attributes.js';
export {
  createClientAddressResolver,
  createForwardedKeyResolver,
  createRateLimitKeyResolver,
  MAX_TRUSTED_HOPS,
  parseTrustedProxies,
  rateLimitKey,
  SHARED_CLIENT_KEY,
  type TrustedProxies,
} from './client-address.js';
export {
  GUEST_CREDENTIAL_PATTERN,
  GUEST_CREDENTIAL_PREFIX,
  INVALID_GUEST_CREDENTIAL_MESSAGE,
  invalidGuestCredential,
  looksLikeGuestCredential,
  parseCredential,
} from './credential.js';
export { parseDuration } from './duration.js';
export type { GuestRecord, UserDeletion, UserExport } from './engine/data-rights.js';
export type { EventRecord } from './engine/event-records.js';
export type { PurgeRound } from './engine/purge-schedule.js';
export {
  type Guest,
  type GuestmodeOptions,
  type GuestSession,
  type MergeOptions,
  type MergeResponse,
  toProfile,
} from './engine/types.js';
export { createGuestmode, Guestmode } from './engine.js';
export {
  ERROR_CODES,
  ERROR_STATUS,
  type ErrorBody,
  type ErrorResponse,
  GuestmodeError,
  type GuestmodeErrorCode,
  type GuestmodeErrorOptions,
  isGuestmodeError,
  RETRY_AFTER_UNAVAILABLE_SECONDS,
  toErrorResponse,
} from './errors.js';
export {
  EVENT_TYPES,
  type EventData,
  type EventsOptions,
  type EventType,
  type GuestmodeEvent,
  isInternalAddress,
  signDelivery,
  type WebhookEndpoint,
} from './events/index.js';
export { type CheckedEvents, checkEventsOptions } from './events/options.js';
export { isWebhookSecret } from './events/signature.js';
export type { MergeChange, MergePreview, MergeResult } from './merge/plan.js';
export {
  BUILT_IN_RULES,
  type BuiltInRuleName,
  builtInRules,
  type MergeConflict,
  type MergeRule,
  type MergeRuleInput,
  type MergeRuleResult,
} from './merge/rules.js';
export { GuestmodeMetrics, MERGE_BUCKETS } from './metrics.js';
export {
  type CheckedGuestmodeOptions,
  checkBoolean,
  checkDuration,
  checkFunction,
  checkGuestCreationLimit,
  checkGuestmodeOptions,
  checkInteger,
  checkMergeRule,
  checkObject,
  checkOneOf,
  checkPositiveInteger,
  checkString,
  checkUrl,
  DEFAULT_GUEST_CREATION_LIMIT,
  DEFAULT_GUEST_TTL_MS,
  DEFAULT_LIMITS,
  DEFAULT_PURGE_INTERVAL_MS,
  GUESTMODE_OPTION_KEYS,
  type GuestCreationLimit,
  isMergeRuleKey,
  isOptionError,
  type OptionError,
  optionError,
  optionPath,
} from './options.js';
export {
  createGuestCreationLimiter,
  type GuestCreationLimiter,
  MemoryCreationLimiter,
  RATE_LIMIT_TABLE,
  rateLimited,
} from './rate-limit.js';
export type {
  EventOutbox,
  EventState,
  ExclusiveRun,
  GuestStats,
  GuestStorage,
  MergeRecord,
  MergeTransaction,
  Principal,
  PurgePolicy,
  StorageLimits,
  StoredAttribute,
  StoredUser,
} from './storage/types.js';
