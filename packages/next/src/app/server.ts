import {
  checkObject,
  createForwardedKeyResolver,
  type Guestmode,
  type TrustedProxies,
} from '@guestmode/core';
import {
  checkCookieAdapterOptions,
  createGuestApiFlow,
  type MergeNotice,
  type PendingMerge,
  pathOption,
  type RequestFacts,
  type SignInOptions,
} from '@guestmode/core/web';
import type { LogtoContext, LogtoNextConfig } from '@logto/next';
import LogtoClient from '@logto/next/server-actions';
import { headers } from 'next/headers.js';
import { redirect } from 'next/navigation.js';
import { type AppGuest, openAppGuest } from './guest.js';
import { type AppContext, createAppPort } from './port.js';
import { errorResponse, fetchRequestFacts } from './request.js';
import { authRoute, type FlowPort, factsOf, guestApiRoute } from './routes.js';

/** Passed to `onMerge` after every merge the routes perform. */
export interface AppMergeEvent extends MergeNotice {
  /** The request of the callback or of the confirm form's post. */
  readonly request: Request;
}

export interface GuestmodeAppOptions extends SignInOptions<AppMergeEvent> {
  /** The engine from `createGuestmode(...)` (with `accessTokens` for the resource), or a promise of it. */
  readonly guestmode: Guestmode | Promise<Guestmode>;
  /**
   * The `@logto/next` configuration (`LogtoNextConfig`). Its `baseUrl` is the app's public URL:
   * its origin decides which requests are same-origin, its scheme whether cookies are `Secure`.
   */
  readonly logto: LogtoNextConfig;
  /** Where `guestRoutes` is mounted (`app/api/guestmode/[...path]/route.ts`). Default `/api/guestmode`. */
  readonly apiPath?: string;
  /**
   * Where `authRoutes` is mounted (`app/api/logto/[action]/route.ts`). Default `/api/logto`;
   * the provider must accept `<baseUrl><authPath>/sign-in-callback` as a redirect URI.
   */
  readonly authPath?: string;
  /** Key for the signed sign-in and pending-merge cookies (32+ characters). Default `logto.cookieSecret`. */
  readonly secret?: string;
  /**
   * The proxies in front of the app, for the guest-creation limit (`guestCreationLimit` of the
   * engine): a hop count, or their addresses and CIDR ranges. Route handlers and Server Actions
   * see no socket address, so the client is read from `X-Forwarded-For` (or `X-Real-IP`) as far
   * as these proxies reach. Default `0`: nothing is trusted and every visitor counts against one
   * shared budget (`next start` alone copies the peer into `X-Forwarded-For` only when the
   * client sent none, so the header proves nothing there).
   */
  readonly trustProxy?: TrustedProxies;
}

/** A route handler: `export const { GET, POST } = gm.authRoutes`. */
export type RouteHandler = (request: Request) => Promise<Response>;

/** What {@link createGuestmodeApp} returns. */
export interface GuestmodeApp {
  /**
   * `app/api/logto/[action]/route.ts`: `sign-in`, `sign-up` (remember the browser's guest),
   * `sign-in-callback` (verify the user, merge the guest or ask), `sign-out` (GET: a page with a
   * button; same-origin POST with the CSRF token: sign out) and `user` (the Logto context, plus
   * the sign-out CSRF token for a signed-in user).
   */
  readonly authRoutes: { readonly GET: RouteHandler; readonly POST: RouteHandler };
  /**
   * `app/api/guestmode/[...path]/route.ts`: the JSON API `useGuest()` talks to (`GET profile`,
   * `PUT`/`DELETE attributes/<name>`), the confirm form's `POST merge` and the built-in
   * `GET confirm` page.
   */
  readonly guestRoutes: {
    readonly GET: RouteHandler;
    readonly PUT: RouteHandler;
    readonly DELETE: RouteHandler;
    readonly POST: RouteHandler;
  };
  /**
   * The guest in a Server Action or a Route Handler (pass its `request`): reads and writes; the
   * first write of a visitor creates the guest and sets its cookie. Writes from another site
   * are refused (`cross_site_request`).
   */
  getGuest(request?: Request): Promise<AppGuest>;
  /**
   * The guest in a Server Component: reads only (Next refuses cookie writes there). When a merge
   * retried after a temporary failure at sign-in must ask the user, it calls Next's `redirect()`
   * to the confirm page (once), as the sign-in callback would have.
   */
  readGuest(): Promise<AppGuest>;
  /** `@logto/next`'s context for this request (`isAuthenticated`, `claims`). */
  getUser(): Promise<LogtoContext>;
  /** The merge waiting for this browser's decision, for the app's own confirm page. */
  getPendingMerge(): Promise<PendingMerge | undefined>;
  /** The `@logto/next/server-actions` client the routes use. */
  readonly logtoClient: LogtoClient;
}

const OPTION_KEYS = [
  'guestmode',
  'logto',
  'apiPath',
  'authPath',
  'secret',
  'resource',
  'confirm',
  'confirmPath',
  'redirectTo',
  'cookieName',
  'onMerge',
  'trustProxy',
];

/** Checks the options once; errors are `TypeError`s naming the option. */
function checkOptions(options: GuestmodeAppOptions) {
  checkObject(options, 'options', OPTION_KEYS);
  const shared = checkCookieAdapterOptions(options);
  const authPath = pathOption(options.authPath, 'options.authPath', '/api/logto');
  let keyOf: ReturnType<typeof createForwardedKeyResolver>;
  try {
    keyOf = createForwardedKeyResolver(options.trustProxy ?? 0);
  } catch (error) {
    // The resolver names its setting `trustProxy`; the option path is `options.trustProxy`.
    throw new TypeError(`options.${(error as Error).message}`);
  }
  const clientKey = (facts: RequestFacts) =>
    keyOf(facts.header('x-forwarded-for'), facts.header('x-real-ip'));
  return { ...shared, authPath, clientKey };
}

/** Runs a route; every refusal becomes core's error answer. */
const safely =
  (route: (request: Request) => Promise<Response>): RouteHandler =>
  async (request) => {
    try {
      return await route(request);
    } catch (error) {
      return errorResponse(error);
    }
  };

/**
 * Guest mode for a Next.js App Router app with `@logto/next/server-actions`: the guest of Server
 * Components, Server Actions and Route Handlers, the route handlers of the sign-in flow (with the
 * merge at the callback) and the guest API `useGuest()` talks to. Options are checked here, once;
 * errors name the option. Server only, Node.js runtime only.
 *
 * @example
 * ```ts
 * // lib/guestmode.ts
 * export const gm = createGuestmodeApp({ guestmode: engine, logto: logtoConfig });
 * // app/api/logto/[action]/route.ts
 * export const { GET, POST } = gm.authRoutes;
 * // app/api/guestmode/[...path]/route.ts
 * export const { GET, PUT, DELETE, POST } = gm.guestRoutes;
 * ```
 */
export function createGuestmodeApp(options: GuestmodeAppOptions): GuestmodeApp {
  const checked = checkOptions(options);
  const { engine, settings, apiPath, authPath, clientKey, sealer } = checked;
  const logtoClient = new LogtoClient(options.logto);
  const ctx: AppContext = {
    settings,
    sealer,
    logto: options.logto,
    logtoClient,
    callbackUrl: `${settings.baseUrl}${authPath}/sign-in-callback`,
  };
  const onMerge = options.onMerge;
  const flow = createGuestApiFlow<FlowPort>(
    checked,
    `${authPath}/sign-out`,
    onMerge && ((port, merge) => onMerge({ request: port.request, ...merge })),
  );
  // A merge that failed at sign-in for a temporary reason is retried here. In a Server Component
  // the merge can happen but its cookies cannot be cleared: the next action or route handler
  // finds the merge done (a replay) and clears them.
  const mergePending = async (facts: RequestFacts, writable: boolean, request?: Request) => {
    const own = await createAppPort(ctx, { ...facts, writable });
    const port = { ...own, request: request ?? new Request(settings.baseUrl) };
    // A Server Component renders a page: one whose user is to be asked is redirected.
    return flow.mergePending(port, { retry: true, page: !writable });
  };
  const openGuest = async (facts: RequestFacts, writable: boolean, request?: Request) => {
    let askAt: string | undefined;
    const guest = await openAppGuest({
      engine,
      ctx,
      facts,
      writable,
      resume: async () => {
        const wait = await mergePending(facts, writable, request);
        askAt = wait.redirect;
        return wait;
      },
      clientKey: clientKey(facts),
    });
    // Only a page (a Server Component) is sent to decide on a retried merge.
    if (askAt !== undefined) redirect(askAt);
    return guest;
  };
  const getGuest = async (request?: Request) =>
    // A Server Action is a POST; its headers are the action request's.
    openGuest(
      request ? factsOf(request) : fetchRequestFacts('POST', await headers()),
      true,
      request,
    );
  const routes = { ctx, flow, getGuest };
  const auth = safely(authRoute(routes, authPath));
  const guestApi = safely(guestApiRoute(routes, apiPath));
  return {
    authRoutes: { GET: auth, POST: auth },
    guestRoutes: { GET: guestApi, PUT: guestApi, DELETE: guestApi, POST: guestApi },
    getGuest,
    readGuest: async () => openGuest(fetchRequestFacts('GET', await headers()), false),
    getUser: () => logtoClient.getLogtoContext(),
    async getPendingMerge() {
      const facts = fetchRequestFacts('GET', await headers());
      const own = await createAppPort(ctx, { ...facts, writable: false });
      return flow.pendingMerge({ ...own, request: new Request(settings.baseUrl) });
    },
    logtoClient,
  };
}
