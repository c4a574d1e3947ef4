/**
 * One error model for the provider's own surfaces (admin functions, account and management APIs,
 * configuration). Mirrors oidc-provider: a stable string `code`, an HTTP `status` below 500 for
 * anything the caller can fix, and a public `message` that never carries secrets.
 */

/** Every code an {@link IdpError} can carry; a `switch` on it narrows exhaustively. */
export type IdpErrorCode =
  | 'invalid_option'
  | 'invalid_request'
  | 'invalid_json'
  | 'payload_too_large'
  | 'method_not_allowed'
  | 'not_found'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'last_sign_in_method'
  | 'connector_error'
  | 'production_refused';

const STATUS: Record<IdpErrorCode, number> = {
  invalid_option: 400,
  invalid_request: 400,
  invalid_json: 400,
  payload_too_large: 413,
  method_not_allowed: 405,
  not_found: 404,
  conflict: 409,
  unauthorized: 401,
  forbidden: 403,
  last_sign_in_method: 422,
  connector_error: 400,
  production_refused: 400,
};

/** An error the caller can act on. `status` is the HTTP status the APIs answer with. */
export class IdpError extends Error {
  readonly code: IdpErrorCode;
  readonly status: number;

  constructor(code: IdpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdpError';
    this.code = code;
    this.status = STATUS[code];
  }
}

/** Thrown at construction when an option is missing or malformed; `option` names its path. */
export class InvalidOptionError extends IdpError {
  readonly option: string;

  constructor(option: string, message: string) {
    super('invalid_option', `${option}: ${message}`);
    this.name = 'InvalidOptionError';
    this.option = option;
  }
}
