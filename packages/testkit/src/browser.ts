/** One cookie in a {@link Browser}'s jar. */
export interface JarCookie {
  readonly host: string;
  readonly name: string;
  readonly path: string;
  readonly value: string;
  /** The `Set-Cookie` header it came from (or `name=value` for a planted one). */
  readonly raw: string;
}

export interface BrowserOptions {
  /** Sent with every request, as a browser sends `Accept-Language`. */
  readonly headers?: Record<string, string>;
  /**
   * Store cookie values URI-decoded and send them URI-encoded (how Next.js and the `cookie`
   * package see them), so tests read and plant plain values. Default: values kept byte for byte.
   */
  readonly uriEncodedValues?: boolean;
}

/**
 * A headless "browser" for HTTP tests: a cookie jar (host, name, path; `Expires` and `Max-Age`
 * deletions) and `fetch` with manual redirects, so a test can walk an OIDC redirect chain, read
 * every `Set-Cookie` and plant cookies as an attacker would. Loops are bounded (20 redirects).
 *
 * @example
 * const browser = new Browser();
 * const { res, url } = await browser.follow(`${app}/logto/sign-in`);
 * const form = parseForm(await res.text(), '/sign-in');
 * await browser.submit(new URL(form.action, url).href, { ...form.fields, username, password });
 */
export class Browser {
  /**
   * The jar, keyed `"<host> <name>"` for a cookie with `Path=/` and `"<host> <name> <path>"`
   * otherwise (tests copy a guest cookie from one browser to another through it).
   */
  readonly cookies = new Map<string, JarCookie>();
  /** Every URL visited by {@link Browser.follow}, in order. */
  readonly visited: string[] = [];
  readonly #headers: Record<string, string>;
  readonly #uriEncoded: boolean;

  constructor(options: BrowserOptions = {}) {
    this.#headers = options.headers ?? {};
    this.#uriEncoded = options.uriEncodedValues ?? false;
  }

  #key(host: string, name: string, path: string): string {
    return path === '/' ? `${host} ${name}` : `${host} ${name} ${path}`;
  }

  #store(url: URL, res: Response) {
    for (const header of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const raw = pair.slice(eq + 1).trim();
      const value = this.#uriEncoded ? decodeURIComponent(raw) : raw;
      let path = '/';
      let expired = false;
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.trim().split('=');
        if (key.toLowerCase() === 'path') path = val || '/';
        if (key.toLowerCase() === 'expires' && Date.parse(val) < Date.now()) expired = true;
        if (key.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
      }
      const key = this.#key(url.host, name, path);
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { host: url.host, name, path, value, raw: header });
    }
  }

  /** The `Cookie` header this browser sends to `url` (longest paths first, as browsers do). */
  cookieHeader(url: URL): string {
    return [...this.cookies.values()]
      .filter(
        (c) =>
          c.host === url.host &&
          (url.pathname === c.path ||
            url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)),
      )
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${this.#uriEncoded ? encodeURIComponent(c.value) : c.value}`)
      .join('; ');
  }

  /** The `Path=/` cookie `name` of `base`'s host. */
  get(base: string, name: string): JarCookie | undefined {
    return this.cookies.get(this.#key(new URL(base).host, name, '/'));
  }

  hasCookie(host: string, name: string): boolean {
    return [...this.cookies.values()].some((c) => c.host === host && c.name === name);
  }

  /** Sets a cookie directly in the jar (the attacker's planted cookie). */
  plant(base: string, name: string, value: string) {
    const host = new URL(base).host;
    this.cookies.set(this.#key(host, name, '/'), {
      host,
      name,
      path: '/',
      value,
      raw: `${name}=${value}`,
    });
  }

  async fetch(input: string, init: RequestInit = {}): Promise<Response> {
    const url = new URL(input);
    const headers = new Headers(this.#headers);
    new Headers(init.headers).forEach((value, name) => {
      headers.set(name, value);
    });
    const cookie = this.cookieHeader(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.#store(url, res);
    return res;
  }

  /**
   * Fetches and follows redirects (at most 20), returning the last response and its URL. A
   * redirect to a URL starting with `stopAt` is not fetched (an app that is not running).
   */
  async follow(
    input: string,
    init: RequestInit & { stopAt?: string } = {},
  ): Promise<{ res: Response; url: string }> {
    const { stopAt, ...request } = init;
    let url = input;
    let res = await this.fetch(url, request);
    this.visited.push(url);
    for (let hops = 0; hops < 20 && res.status >= 300 && res.status < 400; hops++) {
      const location = res.headers.get('location');
      if (!location) break;
      await res.arrayBuffer();
      url = new URL(location, url).href;
      if (stopAt && url.startsWith(stopAt)) return { res, url };
      res = await this.fetch(url);
      this.visited.push(url);
    }
    return { res, url };
  }

  /** Posts a form (urlencoded) with extra `headers` (e.g. `origin`) and follows the redirects. */
  submit(
    action: string,
    fields: Record<string, string>,
    headers: Record<string, string> = {},
    stopAt?: string,
  ) {
    return this.follow(action, {
      ...(stopAt ? { stopAt } : {}),
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

/** The first form whose action contains `actionIncludes`, with its hidden fields. */
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
