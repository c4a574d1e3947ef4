import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

/**
 * A short random hex id for names that must not collide between test files running in
 * parallel (database names, user ids, client ids). Lower-case hex so it is also a valid
 * unquoted PostgreSQL identifier fragment.
 *
 * @param bytes entropy in bytes (the id is twice as many characters); default 8.
 */
export function randomId(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1, for servers that cannot listen on port 0
 * themselves (PostgreSQL). Another process may grab it before it is used, so callers that can
 * should retry with a new port on "address in use".
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this many milliseconds (default 5000). */
  timeoutMs?: number;
  /** Pause between attempts in milliseconds (default 25). */
  intervalMs?: number;
  /** Prefix of the timeout error message, to say what was awaited. */
  message?: string;
}

/**
 * Polls `fn` until it returns a truthy value (which is returned) or the time runs out. Tests use
 * it instead of fixed sleeps for effects that land asynchronously (a background sweep, a log
 * line, a row written by another process), which keeps them fast and never unbounded: the
 * loop is bounded in both time and attempts. Exceptions thrown by `fn` count as "not yet"; the
 * last one is attached as `cause` of the timeout error so failures stay diagnosable.
 *
 * @example
 * const row = await waitFor(async () => (await db.query('select 1 from jobs')).rows[0]);
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = Math.max(1, options.intervalMs ?? 25);
  const deadline = Date.now() + timeoutMs;
  const maxAttempts = Math.ceil(timeoutMs / intervalMs) + 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${options.message ?? 'waitFor'}: condition not met within ${timeoutMs} ms`, {
    cause: lastError,
  });
}
