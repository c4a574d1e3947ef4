import type { ExclusiveRun } from '../types.js';
import type { Connection } from './connection.js';
import { isUnavailable } from './driver-errors.js';

/**
 * Runs `fn` while this process holds the advisory lock named `name`, or skips it when another
 * connection holds it: several app servers on one database then take turns instead of doing the
 * same work at once.
 *
 * The lock is transaction-scoped, taken in a transaction that stays open on one checked-out
 * connection for the whole run (the work itself uses other connections and commits on its own).
 * A session lock would not survive a pooler in transaction mode: between statements outside a
 * transaction, PgBouncer may hand the server connection to another client, so the unlock could
 * reach a connection that never held the lock. An open transaction pins its server connection,
 * and the lock goes with it when the transaction ends or the connection dies. The transaction
 * reads nothing after taking the lock, so it holds no snapshot back from vacuum.
 */
export function runExclusive<T>(
  db: Connection,
  name: string,
  fn: () => Promise<T>,
): Promise<ExclusiveRun<T>> {
  return db.withClient(async (client, markBroken) => {
    await client.query('BEGIN');
    let run: ExclusiveRun<T>;
    try {
      const { rows } = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok',
        [`guestmode:${name}`],
      );
      run = rows[0]?.ok ? { ran: true, value: await fn() } : { ran: false };
    } catch (error) {
      await client.query('ROLLBACK').catch(markBroken);
      throw error;
    }
    await client.query('COMMIT').catch((error: unknown) => {
      // The server ended the transaction itself (a restart, an idle-in-transaction timeout):
      // the lock went with it, and the connection must not go back to the pool.
      markBroken();
      if (!isUnavailable(error)) throw error;
    });
    return run;
  });
}
