/**
 * Which site a request comes from, decided once for every adapter. Browsers say it in
 * `Sec-Fetch-Site`; older ones only send `Origin` (on POST and on cross-origin requests). Guest
 * creation, replacing or clearing a guest cookie, sign-out and a merge without asking all need
 * a request from the app's own pages.
 */

/** The parts of a request {@link requestSite} reads, from any framework. */
export interface RequestFacts {
  /** The HTTP method, upper case. */
  readonly method: string;
  /** A request header (lower-case name), or `undefined` when absent. */
  header(name: string): string | undefined;
}

/**
 * `same-origin` when the request comes from the app's own pages, else `cross-site`:
 *
 * - `Sec-Fetch-Site: same-origin` is same-origin; `none` (a typed URL, a bookmark) too, but only
 *   for GET and HEAD; `same-site` and `cross-site` never are;
 * - without `Sec-Fetch-Site`, an `Origin` equal to `appOrigin` is same-origin (`null`, sent after
 *   a redirect chain or from a sandboxed page, never is);
 * - with neither header, a request without any cookie is a non-browser client (it cannot carry a
 *   victim's cookies) and passes; with cookies it is treated as cross-site.
 *
 * @example
 * ```ts
 * if (requestSite(request, 'https://shop.example') !== 'same-origin') refuse();
 * ```
 */
export function requestSite(
  request: RequestFacts,
  appOrigin: string,
): 'same-origin' | 'cross-site' {
  const site = request.header('sec-fetch-site')?.trim().toLowerCase();
  if (site !== undefined) {
    const navigation = request.method === 'GET' || request.method === 'HEAD';
    return site === 'same-origin' || (site === 'none' && navigation) ? 'same-origin' : 'cross-site';
  }
  const origin = request.header('origin');
  if (origin !== undefined) return origin === appOrigin ? 'same-origin' : 'cross-site';
  return request.header('cookie') ? 'cross-site' : 'same-origin';
}

/**
 * True for a browser's page navigation: a GET (or HEAD) that asks for HTML, not a `fetch` or
 * `XMLHttpRequest` call (`Sec-Fetch-Mode`/`Sec-Fetch-Dest` say so where browsers send them). Only
 * such a request may be redirected to a page; an API call gets an answer it can read instead.
 */
export function isPageNavigation(request: RequestFacts): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (!/\btext\/html\b/i.test(request.header('accept') ?? '')) return false;
  const mode = request.header('sec-fetch-mode')?.toLowerCase();
  const dest = request.header('sec-fetch-dest')?.toLowerCase();
  return (
    (mode === undefined || mode === 'navigate') &&
    (dest === undefined || dest === 'document') &&
    request.header('x-requested-with') === undefined
  );
}
