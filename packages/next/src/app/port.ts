/**
 * The sign-in flow's port for Next's App Router: records in signed cookies written through
 * `next/headers` (the App Router has no server-side session), the Logto calls through
 * `@logto/next/server-actions`, answers as fetch `Response`s a route handler returns.
 */
import {
  type CookieJar,
  cookieRecords,
  logtoCallbackCalls,
  type RequestFacts,
  type Sealer,
  type SignInPort,
  type SignInSettings,
  signedInUserId,
} from '@guestmode/core/web';
import type { LogtoNextConfig } from '@logto/next';
import type LogtoClient from '@logto/next/server-actions';
import { cookies } from 'next/headers.js';
import { personal, readForm } from './request.js';

/** What every port of one `createGuestmodeApp` shares. */
export interface AppContext {
  readonly settings: SignInSettings;
  readonly sealer: Sealer;
  readonly logto: LogtoNextConfig;
  readonly logtoClient: LogtoClient;
  /** The absolute URL of the sign-in callback route (registered with the provider). */
  readonly callbackUrl: string;
}

/** One request as the port sees it. */
export interface AppRequest extends RequestFacts {
  /** The route handler's request (the flow's routes only); Server Actions have none. */
  readonly request?: Request;
  /**
   * `false` in a Server Component, where Next refuses cookie writes: the port then writes none
   * (a sliding expiry is re-sent on the visitor's next action instead).
   */
  readonly writable: boolean;
}

export type AppPort = SignInPort & {
  setGuestCookie(token: string, expires: Date): void;
  /** The answer the flow made (a redirect or a page). */
  response(): Response;
};

/**
 * The request's cookies as a {@link CookieJar}: writes are HttpOnly, SameSite=Lax, `Path=/`,
 * and later reads in this request agree with them (a guest cookie a merge used up must not be
 * read again).
 */
export async function appCookieJar(secure: boolean, writable: boolean): Promise<CookieJar> {
  const store = await cookies();
  const written = new Map<string, string>();
  return {
    get(name) {
      const value = written.has(name) ? written.get(name) : store.get(name)?.value;
      return value ? value : undefined;
    },
    set(name, value, expires) {
      if (!writable) return;
      store.set(name, value, { httpOnly: true, sameSite: 'lax', secure, path: '/', expires });
      written.set(name, value);
    },
  };
}

/** The signed-in user's id from `@logto/next`'s context of this request, or `undefined`. */
export async function appUserId(logtoClient: LogtoClient): Promise<string | undefined> {
  return signedInUserId(await logtoClient.getLogtoContext());
}

/** The port for one request. */
export async function createAppPort(ctx: AppContext, req: AppRequest): Promise<AppPort> {
  const { settings, logtoClient } = ctx;
  const records = cookieRecords(
    await appCookieJar(settings.secure, req.writable),
    ctx.sealer,
    settings,
    req.request?.url,
  );
  // One Logto client per request: its cookie storage holds what the callback just stored.
  let nodeClient: ReturnType<LogtoClient['createNodeClient']> | undefined;
  const client = () => {
    nodeClient ??= logtoClient.createNodeClient({ ignoreCookieChange: !req.writable });
    return nodeClient;
  };
  const url = req.request ? new URL(req.request.url) : undefined;
  let answer: Response | undefined;
  const redirect = (location: string, status: number) => {
    answer = personal(status, 'text/plain; charset=utf-8', '', { location });
  };
  return {
    method: req.method,
    header: req.header,
    ...records,
    readForm: () => readForm(req.request ?? new Request('http://invalid/')),
    userId: () => appUserId(logtoClient),
    async handleSignIn(signUp) {
      const { url: location } = await logtoClient.handleSignIn({
        redirectUri: ctx.callbackUrl,
        ...(signUp ? { interactionMode: 'signUp' as const } : {}),
      });
      records.tieStart(location);
      redirect(location, 302);
    },
    ...logtoCallbackCalls(client, () => {
      const path = url ? `${url.pathname}${url.search}` : '';
      return `${settings.baseUrl}${path}`;
    }),
    async signOut() {
      // 303: the provider's end-session endpoint is reached with a GET, not a repeated POST.
      redirect(await logtoClient.handleSignOut(settings.baseUrl), 303);
    },
    redirect,
    html(status, body) {
      answer = personal(status, 'text/html; charset=utf-8', body);
    },
    response() {
      if (!answer) throw new Error('The sign-in flow did not answer.');
      return answer;
    },
  };
}
