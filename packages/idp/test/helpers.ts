import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIdp, type Idp } from '../src/index.js';

/**
 * A headless "browser": a cookie jar (name, path, host) and fetch with manual redirects, so
 * tests can walk the Logto SDK's redirect chain and see every hop.
 */
export class Browser {
  readonly #cookies = new Map<
    string,
    { host: string; name: string; path: string; value: string }
  >();
  /** Every URL visited by {@link Browser.follow}, in order. */
  readonly visited: string[] = [];
  readonly #headers: Record<string, string>;

  /** @param headers - sent with every request, as a browser sends Accept-Language. */
  constructor(headers: Record<string, string> = {}) {
    this.#headers = headers;
  }

  #store(url: URL, res: Response) {
    for (const header of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = false;
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.trim().split('=');
        if (key.toLowerCase() === 'path') path = val || '/';
        if (key.toLowerCase() === 'expires' && Date.parse(val) < Date.now()) expired = true;
        if (key.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
      }
      const key = `${url.host} ${name} ${path}`;
      if (expired || value === '') this.#cookies.delete(key);
      else this.#cookies.set(key, { host: url.host, name, path, value });
    }
  }

  cookieHeader(url: URL): string {
    return [...this.#cookies.values()]
      .filter(
        (c) =>
          c.host === url.host &&
          (url.pathname === c.path ||
            url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)),
      )
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  hasCookie(host: string, name: string): boolean {
    return [...this.#cookies.values()].some((c) => c.host === host && c.name === name);
  }

  async fetch(input: string, init: RequestInit = {}): Promise<Response> {
    const url = new URL(input);
    const headers = new Headers({
      ...this.#headers,
      ...Object.fromEntries(new Headers(init.headers)),
    });
    const cookie = this.cookieHeader(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.#store(url, res);
    return res;
  }

  /**
   * Fetches and follows redirects (bounded), returning the last response and its URL. A
   * redirect to a URL starting with `stopAt` is not fetched (an app that is not running).
   */
  async follow(
    input: string,
    init: RequestInit & { stopAt?: string } = {},
  ): Promise<{ res: Response; url: string }> {
    let url = input;
    let res = await this.fetch(url, init);
    this.visited.push(url);
    for (let hops = 0; hops < 20 && res.status >= 300 && res.status < 400; hops++) {
      const location = res.headers.get('location');
      if (!location) break;
      await res.arrayBuffer();
      url = new URL(location, url).href;
      if (init.stopAt && url.startsWith(init.stopAt)) return { res, url };
      res = await this.fetch(url);
      this.visited.push(url);
    }
    return { res, url };
  }

  /** Posts a form (urlencoded) and follows the redirects. */
  submit(action: string, fields: Record<string, string>, stopAt?: string) {
    return this.follow(action, {
      ...(stopAt ? { stopAt } : {}),
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

/** The first form whose action matches, with its hidden fields. */
export function parseForm(html: string, actionIncludes: string) {
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const action = /action="([^"]*)"/.exec(match[1]!)?.[1]?.replaceAll('&amp;', '&');
    if (!action?.includes(actionIncludes)) continue;
    const fields: Record<string, string> = {};
    for (const input of match[2]!.matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1];
      const value = /value="([^"]*)"/.exec(input[0])?.[1];
      if (name) fields[name] = (value ?? '').replaceAll('&amp;', '&');
    }
    return { action, fields };
  }
  throw new Error(`no form with action containing ${actionIncludes}`);
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
