/** Refusals of the Express integration's own routes (core refusals stay `GuestmodeError`s). */
export type GuestmodeExpressErrorCode =
  | 'invalid_request'
  | 'csrf_failed'
  | 'not_signed_in'
  | 'user_mismatch'
  | 'sign_in_failed';

const statusByCode: Record<GuestmodeExpressErrorCode, number> = {
  invalid_request: 400,
  csrf_failed: 403,
  not_signed_in: 401,
  user_mismatch: 401,
  // A callback this browser did not start (login CSRF), replayed, or refused by the provider.
  sign_in_failed: 400,
};

export class GuestmodeExpressError extends Error {
  override name = 'GuestmodeExpressError';
  readonly code: GuestmodeExpressErrorCode;
  /** Suggested HTTP status; always below 500. */
  readonly status: number;
  /** Express's default error handler uses `status` and shows the message when `expose`. */
  readonly expose = true;

  constructor(code: GuestmodeExpressErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = statusByCode[code];
  }
}
