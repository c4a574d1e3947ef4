import { GuestmodeError, type GuestmodeErrorCode } from '@guestmode/core';

/** Refusals the HTTP layer makes itself (the engine's own are {@link GuestmodeErrorCode}s). */
export type ServerErrorCode =
  | 'credential_required'
  | 'attribute_not_found'
  | 'cross_site_request'
  | 'not_found'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'internal_error';

/** Every `error.code` this service can answer with. */
export type ErrorCode = GuestmodeErrorCode | ServerErrorCode;

/** A refusal by the HTTP layer, with its status; answered as `{"error":{"code","message"}}`. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers, e.g. `Retry-After`. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** What the error handler answers. */
export interface ErrorReply {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly headers: Readonly<Record<string, string>>;
  /** True when the error is a bug or an outage that should be logged with its details. */
  readonly log: boolean;
}

/** Seconds a client should wait after a 503 before retrying. */
export const RETRY_AFTER_UNAVAILABLE = '5';

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  message?: unknown;
}

/**
 * Maps anything thrown while handling a request to the public answer. Only errors whose status
 * is below 500 carry their own message (they describe the request, never the server); anything
 * else becomes a generic `internal_error` and is logged instead, so no stack trace, SQL or
 * secret leaves the process.
 */
export function toErrorReply(error: unknown): ErrorReply {
  if (error instanceof ApiError) {
    return {
      status: error.status,
      code: error.code,
      message: error.message,
      headers: error.headers,
      log: false,
    };
  }
  if (error instanceof GuestmodeError) {
    if (error.status === 503) {
      return {
        status: 503,
        code: error.code,
        message: error.message,
        headers: { 'retry-after': RETRY_AFTER_UNAVAILABLE },
        log: true,
      };
    }
    if (error.status < 500) {
      return {
        status: error.status,
        code: error.code,
        message: error.message,
        headers: {},
        log: false,
      };
    }
  }
  const e = (error ?? {}) as FastifyLikeError;
  if (e.validation) {
    return {
      status: 400,
      code: 'invalid_request',
      message: typeof e.message === 'string' ? e.message : 'The request is not valid.',
      headers: {},
      log: false,
    };
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: 'payload_too_large',
        message: 'The request body is too large.',
        headers: {},
        log: false,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: 'unsupported_media_type',
        message: 'Send JSON bodies with Content-Type: application/json.',
        headers: {},
        log: false,
      };
  }
  if (e.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return {
      status: 400,
      code: 'invalid_request',
      message: 'A path segment is too long.',
      headers: {},
      log: false,
    };
  }
  // Other client errors detected by Fastify (bad Content-Length, malformed URL...): their
  // messages describe the request and are safe to show.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return {
      status: e.statusCode === 404 ? 404 : 400,
      code: e.statusCode === 404 ? 'not_found' : 'invalid_request',
      message: typeof e.message === 'string' ? e.message : 'The request is not valid.',
      headers: {},
      log: false,
    };
  }
  return {
    status: 500,
    code: 'internal_error',
    message: 'Something went wrong on our side.',
    headers: {},
    log: true,
  };
}

/** The error body: always `{"error":{"code","message"}}`. */
export function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message } });
}
