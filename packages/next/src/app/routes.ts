/**
 * The App Router's route handlers: the sign-in flow's routes under `authPath` and the guest API
 * under `apiPath`, each answering a fetch `Request` with a `Response`.
 */
import {
  cookieRecords,
  guestApiFlowRoute,
  handleGuestApi,
  type RequestFacts,
  requestSite,
  SIGN_IN_ACTIONS,
  type SignInFlow,
  type SignInRoute,
} from '@guestmode/core/web';
import type { AppGuest } from './guest.js';
import { type AppContext, type AppPort, appCookieJar, createAppPort } from './port.js';
import { fetchRequestFacts, json, readJson } from './request.js';

/** The flow's port, with the request `onMerge` receives. */
export type FlowPort = AppPort & { readonly request: Request };

/** What the routes share. */
export interface Routes {
  readonly ctx: AppContext;
  readonly flow: SignInFlow<FlowPort>;
  getGuest(request: Request): Promise<AppGuest>;
}

/** The largest body the guest API reads (the engine's own value limit is lower). */
const MAX_JSON_BYTES = 1024 * 1024;

export const factsOf = (request: Request): RequestFacts =>
  fetchRequestFacts(request.method, request.headers);

/** The rest of the request's path below `mount`, or `''`. */
function below(request: Request, mount: string): string {
  const { pathname } = new URL(request.url);
  return pathname.startsWith(`${mount}/`) ? pathname.slice(mount.length + 1) : '';
}

/** Runs one route of the flow for `request` and returns its answer. */
async function runFlow(routes: Routes, request: Request, route: SignInRoute): Promise<Response> {
  const port = await createAppPort(routes.ctx, { ...factsOf(request), request, writable: true });
  const own: FlowPort = { ...port, request };
  await routes.flow.handle(own, route);
  return own.response();
}

/** `@logto/next`'s context, plus the sign-out CSRF token for a signed-in user. */
async function userRoute({ ctx }: Routes): Promise<Response> {
  const user = await ctx.logtoClient.getLogtoContext();
  if (!user.isAuthenticated) return json(200, user);
  const jar = await appCookieJar(ctx.settings.secure, true);
  const csrfToken = cookieRecords(jar, ctx.sealer, ctx.settings).csrfToken(true);
  return json(200, { ...user, csrfToken });
}

/** `<authPath>/<action>`: the flow's sign-in, sign-up, callback and sign-out, and `user`. */
export function authRoute(routes: Routes, authPath: string) {
  return async (request: Request): Promise<Response> => {
    const action = below(request, authPath);
    const route = SIGN_IN_ACTIONS.get(action);
    if (route) return runFlow(routes, request, route);
    if (action === 'user' && request.method === 'GET') return userRoute(routes);
    return json(404, { error: { code: 'not_found', message: 'No such route.' } });
  };
}

/** `<apiPath>/...`: the guest API, the confirm form's post and the built-in confirm page. */
export function guestApiRoute(routes: Routes, apiPath: string) {
  const { settings } = routes.ctx;
  return async (request: Request): Promise<Response> => {
    const path = below(request, apiPath);
    const route = guestApiFlowRoute(path);
    if (route) return runFlow(routes, request, route);
    let guest: Promise<AppGuest> | undefined;
    const profile = await handleGuestApi({
      path,
      method: request.method.toUpperCase(),
      site: requestSite(factsOf(request), settings.appOrigin),
      guest: () => {
        guest ??= routes.getGuest(request);
        return guest;
      },
      json: () => readJson(request, MAX_JSON_BYTES),
    });
    return json(200, profile);
  };
}
