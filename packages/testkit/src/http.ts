import type { Server } from 'node:http';

/**
 * Starts `server` on 127.0.0.1 with an OS-assigned port and returns its base URL. Port 0 keeps
 * parallel test files from fighting over fixed ports, and the loopback address keeps test
 * servers off the network.
 *
 * @example
 * const base = await listen(http.createServer(app));
 * const res = await fetch(`${base}/health`);
 */
export function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', onError);
      const address = server.address();
      if (!address || typeof address === 'string') {
        reject(new Error('server has no TCP address'));
        return;
      }
      resolve(`http://127.0.0.1:${address.port}`);
    });
  });
}

/**
 * Closes `server` and waits for it. `server.close()` alone waits for keep-alive connections
 * (which `fetch` keeps open) to time out, which makes test files hang for seconds; this drops
 * idle connections at once and, should a request still be in flight after a grace period,
 * every connection. Closing a server that is not listening is not an error.
 */
export function closeServer(server: Server, graceMs = 1000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) {
      resolve();
      return;
    }
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close((error) => {
      clearTimeout(timer);
      if (error && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') {
        reject(error);
      } else {
        resolve();
      }
    });
    server.closeIdleConnections();
  });
}
