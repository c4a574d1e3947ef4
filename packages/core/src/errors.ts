/**
 * One error model for every Guestmode package. Each refusal is a {@link GuestmodeError} (or a
 * subclass) whose `code` is a key of {@link ERROR_STATUS}; the map is the single place where a
 * code gets its HTTP status, so the service, the Express and Next adapters and the local provider
 * answer the same code with the same status, and the OpenAPI document derives its enum from it.
 *
 * Refusals caused by the request have a status below 500 and a message that describes the request
 * (never a secret). Programmer mistakes (bad options, wrong argument types) are plain
 * `TypeError`s that name the option path, so they are never mistaken for a client's fault.
 *
 * @example
 * ```ts
 * try {
 *   await guestmode.setGuestAttribute(token, 'cart', value);
 * } catch (error) {
 *   if (isGuestmodeError(error, 'guest_expired')) return startOver();
 *   throw error;
 * }
 * ```
 */
export const ERROR_STATUS = Object.freeze({
  // The request itself.
  invalid_request: 400,
  invalid_json: 400,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,

  // Credentials: the guest's and the user's.
  credential_required: 401,
  invalid_access_token: 401,
  invalid_guest_credential: 401,
  guest_expired: 401,
  guest_merged: 401,
  guest_already_merged: 409,

  // Profiles and their limits.
  invalid_attribute_name: 400,
  invalid_attribute_value: 400,
  attribute_not_found: 404,
  attribute_too_large: 413,
  profile_too_large: 413,
  too_many_attributes: 413,
  merge_rule_failed: 422,

  // The browser flows of the adapters and the provider's pages.
  cross_site_request: 403,
  csrf_failed: 403,
  not_signed_in: 401,
  user_mismatch: 401,
  /** A callback this browser did not start (login CSRF), replayed, or refused by the provider. */
  sign_in_failed: 400,

  // The local provider's accounts, APIs and social connectors.
  unauthorized: 401,
  forbidden: 403,
  conflict: 409,
  last_sign_in_method: 422,
  production_refused: 400,
  invalid_connector_config: 400,
  duplicate_connector: 409,
  connector_not_found: 404,
  invalid_state: 400,
  invalid_session: 400,
  access_denied: 403,
  upstream_error: 400,
  missing_code: 400,
  social_auth_failed: 400,
  token_storage_unsupported: 400,
  token_refresh_failed: 400,
  vault_unavailable: 400,
  vault_decrypt_failed: 400,

  // Not the caller's fault. 503 tells clients to retry; nothing was written.
  /** The database is down or restarting. */
  storage_unavailable: 503,
  /** The OIDC provider's discovery document or JWKS could not be fetched. */
  provider_unavailable: 503,
  /** A bug or an outage; the details are logged, never sent. */
  internal_error: 500,
} as const);

/** Every `code` a Guestmode error can carry; a `switch` on it narrows exhaustively. */
export type GuestmodeErrorCode = keyof typeof ERROR_STATUS;

/** Every code, in the order of {@link ERROR_STATUS} (for enums in schemas and docs). */
export const ERROR_CODES = Object.freeze(Object.keys(ERROR_STATUS) as GuestmodeErrorCode[]);

/** Seconds a client should wait after a 503 before retrying. */
export const RETRY_AFTER_UNAVAILABLE_SECONDS = 5;

export interface GuestmodeErrorOptions {
  readonly cause?: unknown;
  /** Extra response headers, e.g. `Retry-After` on `rate_limited`. */
  readonly headers?: Readonly<Record<string, string>>;
}

export class GuestmodeError extends Error {
  override name = 'GuestmodeError';
  readonly code: GuestmodeErrorCode;
  /** The HTTP status for {@link code}, from {@link ERROR_STATUS}. */
  readonly status: number;
  /** Extra response headers the answer should carry. */
  readonly headers: Readonly<Record<string, string>>;
  /** Express's default error handler shows the message when `expose` is set. */
  readonly expose: boolean;

  constructor(code: GuestmodeErrorCode, message: string, options?: GuestmodeErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.headers = options?.headers ?? {};
    this.expose = this.status < 500;
  }
}

/** True for a {@link GuestmodeError}, optionally of one code. */
export function isGuestmodeError(
  error: unknown,
  code?: GuestmodeErrorCode,
): error is GuestmodeError {
  return error instanceof GuestmodeError && (code === undefined || error.code === code);
}

/** The body of every error answer: `{"error":{"code","message"}}`. */
export interface ErrorBody {
  readonly error: { readonly code: GuestmodeErrorCode; readonly message: string };
}

/** What an HTTP layer answers for an error, from {@link toErrorResponse}. */
export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: ErrorBody;
  /** True when the error is a bug or an outage that should be logged with its details. */
  readonly log: boolean;
}

/**
 * Maps anything thrown while handling a request to the public answer, the same way in the
 * service and in every adapter. Only a {@link GuestmodeError} below 500 carries its own message
 * (it describes the request, never the server); a 503 keeps its code and gains `Retry-After`;
 * anything else becomes a generic `internal_error` to be logged, so no stack trace, SQL or secret
 * leaves the process. Every answer says `Cache-Control: no-store`.
 */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (error instanceof GuestmodeError && error.status !== 500) {
    const unavailable = error.status === 503;
    return {
      status: error.status,
      headers: {
        'cache-control': 'no-store',
        ...(unavailable ? { 'retry-after': String(RETRY_AFTER_UNAVAILABLE_SECONDS) } : {}),
        ...error.headers,
      },
      body: { error: { code: error.code, message: error.message } },
      log: unavailable,
    };
  }
  return {
    status: 500,
    headers: { 'cache-control': 'no-store' },
    body: { error: { code: 'internal_error', message: 'Something went wrong on our side.' } },
    log: true,
  };
}
