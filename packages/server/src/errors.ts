import { GuestmodeError } from '@guestmode/core';

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  message?: unknown;
}

/**
 * Turns the errors Fastify raises itself (schema validation, body limits, content types, the
 * router) into the {@link GuestmodeError} that says the same thing, so that every answer goes
 * through core's `toErrorResponse` and its one code-to-status map. Anything else is returned as
 * it is: a `GuestmodeError` already, or a bug that `toErrorResponse` hides behind
 * `internal_error`.
 */
export function fromFastifyError(error: unknown): unknown {
  if (error instanceof GuestmodeError) return error;
  const e = (error ?? {}) as FastifyLikeError;
  const message = (fallback: string) => (typeof e.message === 'string' ? e.message : fallback);
  if (e.validation) {
    return new GuestmodeError('invalid_request', message('The request is not valid.'), {
      cause: error,
    });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GuestmodeError('payload_too_large', 'The request body is too large.', {
        cause: error,
      });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GuestmodeError(
        'unsupported_media_type',
        'Send JSON bodies with Content-Type: application/json.',
        { cause: error },
      );
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new GuestmodeError('invalid_request', 'A path segment is too long.', { cause: error });
  }
  // Other client errors detected by Fastify (bad Content-Length, malformed URL...): their
  // messages describe the request and are safe to show.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new GuestmodeError(
      e.statusCode === 404 ? 'not_found' : 'invalid_request',
      message('The request is not valid.'),
      { cause: error },
    );
  }
  return error;
}
