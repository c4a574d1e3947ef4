import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Guestmode, TrustedProxies } from '@guestmode/core';
import {
  type GuestAccessor as CoreGuestAccessor,
  checkCookieAdapterOptions,
  createGuestApiFlow,
  guestApiFlowRoute,
  handleGuestApi,
  type MergeNotice,
  nodeClientKeyReader,
  nodeRequestFacts,
  openRequestGuest,
  type PendingMerge,
  type PendingMergeReason,
  readJson,
  requestSite,
  SIGN_IN_ACTIONS,
  type SignInOptions,
} from '@guestmode/core/web';
import type LogtoClient from '@logto/next';
import type { LogtoContext, LogtoNextConfig } from '@logto/next';
import type {
  GetServerSidePropsContext,
  GetServerSidePropsResult,
  NextApiHandler,
  NextApiRequest,
  NextApiResponse,
} from 'next';
import { createPort, type NextPort, type NextRequestLike, sendAnswer, sendError } from './port.js';
import type { GuestProfile } from './types.js';

export type { NextRequestLike, PendingMerge, PendingMergeReason };

/**
 * The profile of whoever is browsing: the visitor's guest (created on the first write of a
 * same-origin request), or the signed-in user's profile.
 */
export interface GuestAccessor extends CoreGuestAccessor {
  /** The JSON-serialisable view `useGuest()` reads (`GET <apiPath>/profile`). */
  profile(): Promise<GuestProfile>;
}

/** Passed to `onMerge` after every merge the routes perform. */
export interface MergeEvent extends MergeNotice {
  readonly req: IncomingMessage;
}

export interface GuestmodeNextOptions extends SignInOptions<MergeEvent> {
  /**
   * The engine from `createGuestmode(...)`, configured with `accessTokens` for the resource, or a
   * promise of it (Next route modules are synchronous while opening storage is not).
   */
  readonly guestmode: Guestmode | Promise<Guestmode>;
  /** The `LogtoClient` from `@logto/next` whose `handleAuthRoutes()` serves `/api/logto/*`. */
  readonly logtoClient: LogtoClient;
  /**
   * The same configuration given to that `LogtoClient`. Its `baseUrl` is the app's public URL:
   * its origin decides which requests are same-origin, its scheme whether cookies are `Secure`.
   */
  readonly logto: LogtoNextConfig;
  /** Where the guest API route is mounted (`pages/api/guestmode/[...path].ts`). Default `/api/guestmode`. */
  readonly apiPath?: string;
  /** Key for the signed sign-in and pending-merge cookies (32+ characters). Default `logto.cookieSecret`. */
  readonly secret?: string;
  /**
   * Which proxies may name the client in `X-Forwarded-For`, for the guest-creation limit
   * (`options.guestCreationLimit` of the engine): a hop count, or proxy addresses and CIDR
   * ranges. Default `0`: the peer address is the client.
   */
  readonly trustProxy?: TrustedProxies;
}

/** What the guest-aware wrappers add to API handlers and `getServerSideProps`. */
export interface GuestContext {
  readonly guest: GuestAccessor;
  /** `@logto/next`'s context for this request (`isAuthenticated`, `claims`). */
  readonly user: LogtoContext;
}

/** An API request inside {@link GuestmodeNext.withGuest}. */
export type GuestApiRequest = NextApiRequest & GuestContext;

/** The helpers returned by {@link createGuestmodeNext}. */
export interface GuestmodeNext {
  /**
   * Wraps `logtoClient.handleAuthRoutes()` (`pages/api/logto/[action].ts`): sign-in remembers
   * the browser's guest, the callback merges it, sign-out is a same-origin POST with the CSRF
   * token (GET answers a page with a button), and `/api/logto/user` adds `csrfToken` for a
   * signed-in user. Every answer says `Cache-Control: no-store`.
   */
  handleAuthRoutes(inner?: NextApiHandler): NextApiHandler;
  /**
   * The guest API for `pages/api/guestmode/[...path].ts`: `GET profile`,
   * `PUT attributes/<name>` (JSON body: the value), `DELETE attributes/<name>`, the confirm
   * form's `POST merge`, and the built-in `GET confirm` page.
   */
  handleGuestRoutes(): NextApiHandler;
  /** An API route handler receiving `req.guest` and `req.user`. */
  withGuest<T = unknown>(
    handler: (req: GuestApiRequest, res: NextApiResponse<T>) => unknown,
  ): NextApiHandler<T>;
  /**
   * A `getServerSideProps` receiving `guest` and `user` (also set on `context.req`). When a merge
   * retried after a temporary failure at sign-in must ask the user, it returns a 303 redirect to
   * the confirm page instead (once), as the sign-in callback would have.
   */
  withGuestSsr<P extends Record<string, unknown> = Record<string, unknown>>(
    handler: (
      context: GetServerSidePropsContext & GuestContext,
    ) => GetServerSidePropsResult<P> | Promise<GetServerSidePropsResult<P>>,
  ): (context: GetServerSidePropsContext) => Promise<GetServerSidePropsResult<P>>;
  /** The guest accessor for any request (once per request; later calls return the same one). */
  getGuest(req: NextRequestLike, res: ServerResponse): Promise<GuestAccessor>;
  /** `@logto/next`'s context for the request (once per request). */
  getUser(req: NextRequestLike, res: ServerResponse): Promise<LogtoContext>;
  /** The merge waiting for this browser's decision, for the app's own confirm page. */
  getPendingMerge(req: NextRequestLike, res: ServerResponse): Promise<PendingMerge | undefined>;
  /** The CSRF token a sign-out form posts as `csrf` (also in `/api/logto/user`). */
  getCsrfToken(req: NextRequestLike, res: ServerResponse): string;
}

/** Checks the options once; errors are `TypeError`s naming the option. */
function checkOptions(options: GuestmodeNextOptions) {
  if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
  const logtoClient = options.logtoClient;
  if (!logtoClient || typeof logtoClient.createNodeClientFromNextApi !== 'function') {
    throw new TypeError('options.logtoClient must be a LogtoClient from @logto/next');
  }
  const shared = checkCookieAdapterOptions(options);
  const clientKey = nodeClientKeyReader(options.trustProxy, 'options.trustProxy');
  return { ...shared, logtoClient, clientKey };
}

/** One value per request, made on first use (the user and guest are read once per request). */
function perRequest<T, A extends unknown[]>(
  make: (req: NextRequestLike, res: ServerResponse, ...args: A) => T,
) {
  const made = new WeakMap<IncomingMessage, T>();
  return (req: NextRequestLike, res: ServerResponse, ...args: A): T => {
    if (!made.has(req)) made.set(req, make(req, res, ...args));
    return made.get(req)!;
  };
}

/** Answers every failure of `handler` with core's error model. */
const safely =
  <T>(handler: (req: NextApiRequest, res: NextApiResponse<T>) => unknown): NextApiHandler<T> =>
  async (req, res) => {
    try {
      await handler(req, res);
    } catch (error) {
      sendError(res, error);
    }
  };

/** `@logto/next`'s `/api/logto/user` JSON, plus the sign-out CSRF token for a signed-in user. */
function userRoute(port: NextPort, res: NextApiResponse, inner: () => unknown) {
  const json = res.json.bind(res);
  res.json = (body: LogtoContext) =>
    json(body?.isAuthenticated ? { ...body, csrfToken: port.csrfToken(true) } : body);
  return inner();
}

/**
 * Guest mode for a Next.js (Pages Router) app using `@logto/next`: the guest of every request,
 * the guest API `useGuest()` talks to, and the sign-in flow of `@guestmode/core/web`. Options are
 * checked here, once; errors name the option.
 *
 * @example
 * ```ts
 * // lib/guestmode.ts
 * export const logtoConfig = { endpoint, appId, appSecret, baseUrl, cookieSecret,
 *   cookieSecure: false, resources: ['https://api.bookstore.local'] };
 * export const logtoClient = new LogtoClient(logtoConfig);
 * export const guestmode = createGuestmodeNext({ guestmode: engine, logtoClient, logto: logtoConfig });
 * // pages/api/logto/[action].ts
 * export default guestmode.handleAuthRoutes(logtoClient.handleAuthRoutes());
 * // pages/api/guestmode/[...path].ts
 * export default guestmode.handleGuestRoutes();
 * ```
 */
export function createGuestmodeNext(options: GuestmodeNextOptions): GuestmodeNext {
  const checked = checkOptions(options);
  const { engine, logtoClient, settings, apiPath, clientKey, sealer } = checked;
  const onMerge = options.onMerge;
  const flow = createGuestApiFlow<NextPort>(
    checked,
    '/api/logto/sign-out',
    onMerge && ((port, merge) => onMerge({ req: port.req, ...merge })),
  );
  const getUser = perRequest((req, res) =>
    logtoClient.createNodeClientFromNextApi(req, res).then((client) => client.getContext()),
  );
  const ctx = { settings, sealer, logtoClient, getUser };
  const port = (req: NextRequestLike, res: ServerResponse, inner?: NextApiHandler) =>
    createPort(ctx, req, res, inner);
  // One guest per request; a page (`withGuestSsr`) may first be sent to decide on a retried merge.
  const opened = perRequest(async (req, res, page: boolean) => {
    const own = port(req, res);
    return openRequestGuest({
      engine,
      userId: await own.userId(),
      cookies: own,
      facts: own,
      appOrigin: settings.appOrigin,
      clientKey: clientKey(req),
      resume: () => flow.mergePending(own, { retry: true, page }),
    });
  });
  const getGuest = async (req: NextRequestLike, res: ServerResponse): Promise<GuestAccessor> =>
    (await opened(req, res, false)).guest;

  const guestApi = async (req: NextApiRequest, res: NextApiResponse) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    const path = pathname.startsWith(`${apiPath}/`) ? pathname.slice(apiPath.length + 1) : '';
    const route = guestApiFlowRoute(path);
    if (route) return flow.handle(port(req, res), route);
    const facts = nodeRequestFacts(req);
    const profile = await handleGuestApi({
      path,
      method: facts.method,
      site: requestSite(facts, settings.appOrigin),
      guest: () => getGuest(req, res),
      json: () => readJson(req, 1024 * 1024),
    });
    sendAnswer(res, 200, 'application/json; charset=utf-8', JSON.stringify(profile));
  };

  return {
    handleAuthRoutes(inner = logtoClient.handleAuthRoutes()) {
      if (typeof inner !== 'function') {
        throw new TypeError('handleAuthRoutes(inner) needs logtoClient.handleAuthRoutes()');
      }
      return safely(async (req, res) => {
        res.setHeader('Cache-Control', 'no-store');
        const route = SIGN_IN_ACTIONS.get(req.query.action as string);
        if (route) return flow.handle(port(req, res, inner), route);
        if (req.query.action === 'user')
          return userRoute(port(req, res), res, () => inner(req, res));
        return inner(req, res);
      });
    },
    handleGuestRoutes: () => safely(guestApi),
    withGuest(handler) {
      return safely(async (req, res) => {
        const guest = await getGuest(req, res);
        Object.assign(req, { guest, user: await getUser(req, res) });
        return handler(req as GuestApiRequest, res);
      });
    },
    withGuestSsr(handler) {
      return async (context) => {
        const { guest, redirect } = await opened(context.req, context.res, true);
        if (redirect) return { redirect: { destination: redirect, statusCode: 303 } };
        const user = await getUser(context.req, context.res);
        Object.assign(context.req, { guest, user });
        return handler({ ...context, guest, user });
      };
    },
    getGuest,
    getUser,
    getPendingMerge: (req, res) => flow.pendingMerge(port(req, res)),
    getCsrfToken: (req, res) => port(req, res).csrfToken(true)!,
  };
}

export type { GuestProfile };
