import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseForm, Browser as TestBrowser } from '@guestmode/testkit';
import { createIdp, type Idp } from '../src/index.js';

export { parseForm };

/** The shared test browser; `headers` are sent with every request (e.g. Accept-Language). */
export class Browser extends TestBrowser {
  constructor(headers: Record<string, string> = {}) {
    super({ headers });
  }
}

/** Starts a provider on 127.0.0.1, port 0, in memory, silent. */
export async function startIdp(env: NodeJS.ProcessEnv = {}): Promise<Idp> {
  const idp = createIdp({
    endpoint: 'http://127.0.0.1',
    port: 0,
    database: ':memory:',
    env,
    warn: () => {},
  });
  await idp.listen();
  return idp;
}

/** Listens on 127.0.0.1:0 with a handler that may be set once the URL is known. */
export async function startApp(): Promise<{
  url: string;
  server: Server;
  use(handler: RequestListener): void;
  close(): Promise<void>;
}> {
  let handler: RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    use(next) {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
