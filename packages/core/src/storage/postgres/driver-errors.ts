import { GuestmodeError } from '../../errors.js';

/**
 * Connection-level failures (server down, restarting, network) become `storage_unavailable`
 * (503: retry later). Anything else is a bug or a constraint and is rethrown as is.
 */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') {
      return true;
    }
    if (
      code === 'ECONNREFUSED' ||
      code === 'ECONNRESET' ||
      code === 'EPIPE' ||
      code === 'ETIMEDOUT'
    ) {
      return true;
    }
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
    error.message,
  );
}

export function wrap(error: unknown): never {
  if (error instanceof GuestmodeError) throw error;
  if (isUnavailable(error)) {
    throw new GuestmodeError('storage_unavailable', 'The database is unavailable; retry later.', {
      cause: error,
    });
  }
  throw error;
}
