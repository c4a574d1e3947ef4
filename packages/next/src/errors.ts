/** Refusals of the Next.js integration's own routes (core refusals stay `GuestmodeError`s). */
export type GuestmodeNextErrorCode =
  | 'invalid_request'
  | 'not_found'
  | 'method_not_allowed'
  | 'csrf_failed'
  | 'not_signed_in'
  | 'user_mismatch';

const statusByCode: Record<GuestmodeNextErrorCode, number> = {
  invalid_request: 400,
  not_found: 404,
  method_not_allowed: 405,
  csrf_failed: 403,
  not_signed_in: 401,
  user_mismatch: 401,
};

export class GuestmodeNextError extends Error {
  override name = 'GuestmodeNextError';
  readonly code: GuestmodeNextErrorCode;
  /** Suggested HTTP status; always below 500. */
  readonly status: number;

  constructor(code: GuestmodeNextErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = statusByCode[code];
  }
}
