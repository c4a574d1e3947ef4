import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { BrowserContext, Page, Request } from 'playwright-core';
import { closeServer } from './http.js';

/** A request an {@link AttackerSite} received. */
export interface AttackerRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

type Route =
  | { readonly kind: 'page'; readonly html: string }
  | { readonly kind: 'redirect'; readonly status: number; readonly location: string };

/**
 * A hostile web site for cross-site tests: a tiny `node:http` server on its own loopback
 * address (127.0.0.2, 127.0.0.3, …), so that to the browser it is another site than the app on
 * 127.0.0.1 (sites of IP hosts are the address itself; the port does not count). Tests register
 * pages and redirects on it, then make the victim's browser visit them.
 */
export interface AttackerSite {
  /** `http://<address>:<port>`. */
  readonly url: string;
  /** Every request received, in order (the attacker's own view of what the browser sent). */
  readonly seen: AttackerRequest[];
  /** Serves `html` at `path`; returns the page's URL. */
  page(path: string, html: string): string;
  /** Answers `path` (any method) with `status` and `Location: location`; returns its URL. */
  redirect(path: string, location: string, status?: 301 | 302 | 303 | 307 | 308): string;
  close(): Promise<void>;
}

/**
 * Starts an {@link AttackerSite} on `address` (a loopback address other than 127.0.0.1) with a
 * port chosen by the system. Linux answers on all of 127.0.0.0/8 without any set-up.
 *
 * @example
 * const evil = await startAttackerSite('127.0.0.2');
 * after(() => evil.close());
 * await page.goto(evil.page('/win', autoSubmitForm(`${app}/cart/add`, { book: 'x' })));
 */
export async function startAttackerSite(address: string): Promise<AttackerSite> {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '127.0.0.1') {
    throw new TypeError('address must be a loopback address other than 127.0.0.1');
  }
  const routes = new Map<string, Route>();
  const seen: AttackerRequest[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    seen.push({ method: req.method ?? 'GET', path, headers: req.headers });
    // The body (a bounced form post) is not needed: drain it so the connection stays usable.
    req.resume();
    const route = routes.get(new URL(path, 'http://attacker').pathname);
    res.setHeader('Cache-Control', 'no-store');
    if (!route) {
      res.statusCode = 404;
      res.end('not found');
    } else if (route.kind === 'page') {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(route.html);
    } else {
      res.statusCode = route.status;
      res.setHeader('Location', route.location);
      res.end();
    }
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => {
      server.off('error', reject);
      const bound = server.address();
      if (!bound || typeof bound === 'string') reject(new Error('server has no TCP address'));
      else resolve(bound.port);
    });
  });
  const url = `http://${address}:${port}`;
  const checkPath = (path: string) => {
    if (!path.startsWith('/') || path.includes('?')) {
      throw new TypeError('path must start with "/" and have no query');
    }
  };
  return {
    url,
    seen,
    page(path, html) {
      checkPath(path);
      routes.set(path, { kind: 'page', html });
      return `${url}${path}`;
    },
    redirect(path, location, status = 307) {
      checkPath(path);
      routes.set(path, { kind: 'redirect', status, location });
      return `${url}${path}`;
    },
    close: () => closeServer(server),
  };
}

function escapeAttribute(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * An attacker's page that posts a form to `action` as soon as it has loaded, as a victim would
 * by clicking: a top-level navigation carrying the attacker's origin. `enctype: 'text/plain'`
 * with one field whose name and value join into JSON is the classic way to post a JSON body
 * from a form.
 */
export function autoSubmitForm(
  action: string,
  fields: Record<string, string>,
  options: {
    readonly enctype?: 'application/x-www-form-urlencoded' | 'multipart/form-data' | 'text/plain';
  } = {},
): string {
  const inputs = Object.entries(fields)
    .map(
      ([name, value]) =>
        `<input type="hidden" name="${escapeAttribute(name)}" value="${escapeAttribute(value)}">`,
    )
    .join('');
  const enctype = options.enctype ?? 'application/x-www-form-urlencoded';
  return `<!doctype html><html><body><form method="post" action="${escapeAttribute(action)}" enctype="${enctype}">${inputs}</form><script>addEventListener('load', () => document.forms[0].submit());</script></body></html>`;
}

/** An attacker's page that sends the whole window to `url` (a forced top-level navigation). */
export function forcedNavigation(url: string): string {
  return `<!doctype html><html><body><script>addEventListener('load', () => { location.href = ${JSON.stringify(url)}; });</script></body></html>`;
}

/** A request the browser sent, with the headers as they went over the wire. */
export interface SentRequest {
  readonly method: string;
  readonly url: string;
  /** Lower-case names, including `cookie`, `origin` and `sec-fetch-*` when sent. */
  readonly headers: Readonly<Record<string, string>>;
  /** The response's status, or `undefined` when none arrived. */
  readonly status: number | undefined;
}

/**
 * Records what a Chromium context really sends to `origin` (raw headers from the DevTools
 * protocol, cookies and `Origin: null` included), so a test can prove the browser behaved as the
 * attack assumes before it judges the app's answer.
 *
 * @example
 * const wire = watchRequests(context, app);
 * // … the attack …
 * const [post] = await wire.sent((r) => r.method === 'POST' && r.url.endsWith('/cart/add'));
 * assert.equal(post.headers.origin, 'null');
 */
export function watchRequests(context: BrowserContext, origin: string) {
  const requests: Request[] = [];
  const listener = (request: Request) => {
    if (new URL(request.url()).origin === new URL(origin).origin) requests.push(request);
  };
  context.on('request', listener);
  return {
    /** The requests so far (optionally only those `filter` keeps), in the order they were sent. */
    async sent(filter: (request: { method: string; url: string }) => boolean = () => true) {
      const out: SentRequest[] = [];
      for (const request of requests) {
        const summary = { method: request.method(), url: request.url() };
        if (!filter(summary)) continue;
        const response = await request.response().catch(() => null);
        out.push({
          ...summary,
          headers: await request.allHeaders(),
          status: response?.status(),
        });
      }
      return out;
    },
    /** Forgets what was recorded. */
    clear() {
      requests.length = 0;
    },
    stop() {
      context.off('request', listener);
    },
  };
}

/**
 * Opens an attacker's page at `url` and waits until the navigations it starts have come to rest
 * anywhere but on the `attackers`' sites (the app under attack, or its provider).
 */
export async function visitAttack(
  page: Page,
  url: string,
  attackers: readonly AttackerSite[],
): Promise<void> {
  const origins = new Set(attackers.map((site) => site.url));
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForURL((u) => !origins.has(u.origin) && u.protocol === 'http:');
  await page.waitForLoadState('load');
}
