/**
 * Every refusal Guestmode makes is a {@link GuestmodeError} with a stable `code`. Callers switch
 * on `code` (the union narrows); HTTP layers use `status`, which is always below 500 for refusals
 * caused by the request. Programmer mistakes (bad options, wrong argument types) are plain
 * `TypeError`s instead, so they are never mistaken for a client's fault.
 */
export type GuestmodeErrorCode =
  | 'invalid_request'
  | 'invalid_access_token'
  | 'invalid_guest_credential'
  | 'guest_expired'
  | 'guest_merged'
  | 'guest_already_merged'
  | 'invalid_attribute_name'
  | 'invalid_attribute_value'
  | 'attribute_too_large'
  | 'profile_too_large'
  | 'too_many_attributes'
  | 'merge_rule_failed'
  | 'storage_unavailable'
  | 'provider_unavailable';

const statusByCode: Record<GuestmodeErrorCode, number> = {
  invalid_request: 400,
  invalid_access_token: 401,
  invalid_guest_credential: 401,
  guest_expired: 401,
  guest_merged: 401,
  guest_already_merged: 409,
  invalid_attribute_name: 400,
  invalid_attribute_value: 400,
  attribute_too_large: 413,
  profile_too_large: 413,
  too_many_attributes: 413,
  merge_rule_failed: 422,
  // The one code that is not the caller's fault: the database is down or restarting. 503 tells
  // clients to retry, and nothing was written.
  storage_unavailable: 503,
  // The OIDC provider's discovery document or JWKS could not be fetched: not the caller's fault.
  provider_unavailable: 503,
};

export class GuestmodeError extends Error {
  override name = 'GuestmodeError';
  readonly code: GuestmodeErrorCode;
  /** Suggested HTTP status. */
  readonly status: number;

  constructor(code: GuestmodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = statusByCode[code];
  }
}

/** True for a {@link GuestmodeError}, optionally of one code. */
export function isGuestmodeError(
  error: unknown,
  code?: GuestmodeErrorCode,
): error is GuestmodeError {
  return error instanceof GuestmodeError && (code === undefined || error.code === code);
}
