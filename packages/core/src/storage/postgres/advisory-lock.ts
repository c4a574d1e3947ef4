import type { ExclusiveRun } from '../types.js';
import type { Connection } from './connection.js';
import { isUnavailable } from './driver-errors.js';

/**
 * Runs `fn` while this process holds the session advisory lock named `name`, or skips it when
 * another connection holds it: several app servers on one database then take turns instead of
 * doing the same work at once. The lock lives on one connection checked out for the whole run
 * (the work itself may use other connections); it goes when that connection is released or dies.
 */
export function runExclusive<T>(
  db: Connection,
  name: string,
  fn: () => Promise<T>,
): Promise<ExclusiveRun<T>> {
  return db.withClient(async (client, markBroken) => {
    const key = `guestmode:${name}`;
    const { rows } = await client.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_lock(hashtext($1)) AS ok',
      [key],
    );
    if (!rows[0]?.ok) return { ran: false };
    try {
      return { ran: true, value: await fn() };
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch((error) => {
        // A lock that could not be released must not stay with a pooled connection.
        markBroken();
        if (!isUnavailable(error)) throw error;
      });
    }
  });
}
