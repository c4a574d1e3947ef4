import { GuestmodeError } from '../../errors.js';

const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY)/;

/**
 * Another process holding the write lock past `busy_timeout`, or a full disk, is not the
 * caller's fault: it becomes `storage_unavailable` (503, retry later). Anything else is a bug and
 * is returned as it is.
 */
export function unavailable(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNAVAILABLE.test(code)) {
    return new GuestmodeError(
      'storage_unavailable',
      'The database is busy or unavailable; retry later.',
      { cause: error },
    );
  }
  return error;
}
