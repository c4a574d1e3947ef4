/**
 * Which route of the sign-in flow a request is for, by the paths an adapter serves: the Logto
 * SDK's auth routes (`sign-in`, `sign-up`, `sign-in-callback`, `sign-out` under one path), the
 * confirm form's post and the confirm page.
 */
import type { SignInRoute } from './flow.js';

/** The flow's routes by their action under the SDK's auth path (`/api/logto/<action>`). */
export const SIGN_IN_ACTIONS: ReadonlyMap<string, SignInRoute> = new Map<string, SignInRoute>([
  ['sign-in', 'sign-in'],
  ['sign-up', 'sign-up'],
  ['sign-in-callback', 'callback'],
  ['sign-out', 'sign-out'],
]);

/**
 * The flow's route for a path below the guest API, or `undefined` for the guest API's own paths.
 * `confirm` is the built-in confirm page or, when the app serves its own, the step that stores a
 * retried merge's decision (which a Server Component cannot) and forwards to the app's page.
 */
export function guestApiFlowRoute(path: string): 'merge' | 'confirm' | undefined {
  return path === 'merge' || path === 'confirm' ? path : undefined;
}

/**
 * Every route of the flow by its full path: the auth routes under `authPath`, `mergePath` and
 * `confirmPath` (the built-in page; `undefined` when the app serves its own).
 *
 * @example
 * ```ts
 * const routes = signInRoutes('/logto', '/guestmode/merge', '/guestmode/confirm');
 * const route = routes.get(req.path); // 'callback' for /logto/sign-in-callback
 * ```
 */
export function signInRoutes(
  authPath: string,
  mergePath: string,
  confirmPath: string | undefined,
): ReadonlyMap<string, SignInRoute> {
  const routes = new Map<string, SignInRoute>();
  for (const [action, route] of SIGN_IN_ACTIONS) routes.set(`${authPath}/${action}`, route);
  routes.set(mergePath, 'merge');
  if (confirmPath !== undefined) routes.set(confirmPath, 'confirm');
  return routes;
}
