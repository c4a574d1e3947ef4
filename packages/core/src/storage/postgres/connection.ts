import type pg from 'pg';
import type { LimiterPool } from '../types.js';
import { isUnavailable, wrap } from './driver-errors.js';
import { type QueryName, q } from './schema.js';

/** What runs a statement: the pool (a statement of its own) or a client (inside a transaction). */
export type Runner = pg.Pool | pg.PoolClient;

/**
 * The pool and the three ways the adapter uses it: one statement, a client lent for a while, a
 * transaction. Shared by the single-operation paths and by group commit.
 */
export class Connection {
  readonly pool: pg.Pool;
  /** How many clients the pool may open: group commit keeps some of them for other work. */
  readonly size: number;
  /**
   * The pool as code outside the adapter sees it (the shared guest-creation limit): with prepared
   * statements off, the names of its statements are dropped too, for the reason given at
   * {@link query}.
   */
  readonly shared: LimiterPool;
  readonly #named: boolean;

  constructor(pool: pg.Pool, size: number, preparedStatements: boolean) {
    this.pool = pool;
    this.size = size;
    this.#named = preparedStatements;
    this.shared = preparedStatements
      ? pool
      : { query: ({ text, values }) => pool.query(text, values) };
  }

  /**
   * Runs one of the adapter's statements. Named, `pg` prepares it once per connection; unnamed,
   * every execution is parsed anew, which is what a pooler in transaction mode needs, since the
   * next transaction may run on a server connection that never saw the preparation.
   */
  query<R extends pg.QueryResultRow>(
    runner: Runner,
    name: QueryName,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.#named
      ? runner.query<R>({ name: `gm_${name}`, text: q[name], values })
      : runner.query<R>(q[name], values);
  }

  /** Checks a client out of the pool; a pool that cannot connect is `storage_unavailable`. */
  async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      wrap(error);
    }
  }

  /**
   * Lends `fn` a client of its own. pg-pool listens for 'error' only on idle clients; a
   * connection that dies while checked out (a database restart mid-transaction) would otherwise
   * emit an unhandled 'error' and end the process. The query in flight rejects on its own; here
   * the client is only marked broken, so that it is discarded instead of returned to the pool.
   */
  async withClient<T>(
    fn: (client: pg.PoolClient, markBroken: () => void) => Promise<T>,
  ): Promise<T> {
    const client = await this.connect();
    let broken = false;
    const markBroken = () => {
      broken = true;
    };
    client.on('error', markBroken);
    try {
      return await fn(client, markBroken);
    } catch (error) {
      broken ||= isUnavailable(error);
      wrap(error);
    } finally {
      client.off('error', markBroken);
      client.release(broken);
    }
  }

  /**
   * Runs `fn` in a transaction. It commits unless `keep` says no for the value (a preview): then
   * it rolls back and still answers the value.
   */
  transaction<T>(
    fn: (client: pg.PoolClient) => Promise<T>,
    keep?: (value: T) => boolean,
  ): Promise<T> {
    return this.withClient(async (client, markBroken) => {
      await client.query('BEGIN');
      try {
        const result = await fn(client);
        await client.query(keep === undefined || keep(result) ? 'COMMIT' : 'ROLLBACK');
        return result;
      } catch (error) {
        // A ROLLBACK that fails leaves the connection in an unknown state: it is not reused.
        await client.query('ROLLBACK').catch(markBroken);
        throw error;
      }
    });
  }
}
