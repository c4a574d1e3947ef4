/**
 * The sign-in port's calls into a Logto SDK client at the callback: complete the sign-in, get
 * the access token for the resource, read the ID token's claims. Every adapter makes them the
 * same way; only how it gets the SDK client for the request differs.
 */
import type { SignInPort } from './flow.js';

/** The part of a Logto SDK client the callback uses (`@logto/node`, `@logto/next`'s node client). */
export interface LogtoCallbackClient {
  handleSignInCallback(callbackUri: string): Promise<unknown>;
  getAccessToken(resource?: string): Promise<string>;
  getIdTokenClaims(): Promise<{ readonly sub?: unknown }>;
}

/**
 * The port's callback calls over `client`, asked for on every call (an adapter that keeps one
 * client per request returns that one); the sign-in completes at `callbackUrl()`, the absolute
 * URL of the callback request.
 *
 * @example
 * ```ts
 * const port = { ...logtoCallbackCalls(() => new LogtoClient(config, adapter), () => url), ... };
 * ```
 */
export function logtoCallbackCalls(
  client: () => LogtoCallbackClient | Promise<LogtoCallbackClient>,
  callbackUrl: () => string,
): Pick<SignInPort, 'handleSignInCallback' | 'getAccessToken' | 'getIdTokenClaims'> {
  return {
    async handleSignInCallback() {
      await (await client()).handleSignInCallback(callbackUrl());
    },
    getAccessToken: async (resource) => (await client()).getAccessToken(resource),
    getIdTokenClaims: async () => (await client()).getIdTokenClaims(),
  };
}
