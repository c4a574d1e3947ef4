/**
 * The sign-in flow's port for Next's Pages Router: records in signed cookies (Next has no
 * server-side session), the Logto calls through `@logto/next`, answers on the Node response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toErrorResponse } from '@guestmode/core';
import {
  cookieRecords,
  logtoCallbackCalls,
  nodeCookieJar,
  nodeRequestFacts,
  readForm,
  type Sealer,
  type SignInPort,
  type SignInSettings,
  signedInUserId,
} from '@guestmode/core/web';
import type LogtoClient from '@logto/next';
import type { LogtoContext } from '@logto/next';
import type { NextApiHandler, NextApiRequest, NextApiResponse } from 'next';

/** A request as Next gives it to API routes and `getServerSideProps` (cookies parsed). */
export type NextRequestLike = IncomingMessage & { cookies: Partial<Record<string, string>> };

export type NextPort = SignInPort & {
  readonly req: IncomingMessage;
  setGuestCookie(token: string, expires: Date): void;
};

/** What every port of one `createGuestmodeNext` shares. */
export interface PortContext {
  readonly settings: SignInSettings;
  readonly sealer: Sealer;
  readonly logtoClient: LogtoClient;
  getUser(req: NextRequestLike, res: ServerResponse): Promise<LogtoContext>;
}

/** Makes `res.redirect` (as `@logto/next` calls it) use `status` and report the location. */
function onRedirect(res: NextApiResponse, status: number, seen: (location: string) => void) {
  const original = res.redirect.bind(res) as (a: number | string, b?: string) => unknown;
  res.redirect = ((a: number | string, b?: string) => {
    const location = (typeof a === 'string' ? a : b) ?? '/';
    seen(location);
    return original(status, location);
  }) as NextApiResponse['redirect'];
}

/** An answer about this browser's own data: never stored by a cache, never shared across cookies. */
export function sendAnswer(res: ServerResponse, status: number, type: string, body: string) {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Vary', 'Cookie');
  res.end(body);
}

/** Answers an error with core's one error model (`{"error":{"code","message"}}`). */
export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const answer = toErrorResponse(error);
  if (answer.log) console.error(error);
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  sendAnswer(res, answer.status, 'application/json; charset=utf-8', JSON.stringify(answer.body));
}

/** The port for one request; `inner` is `logtoClient.handleAuthRoutes()` (sign-in, sign-out). */
export function createPort(
  ctx: PortContext,
  req: NextRequestLike,
  res: ServerResponse,
  inner?: NextApiHandler,
): NextPort {
  const { settings } = ctx;
  const url = `${settings.baseUrl}${req.url ?? ''}`;
  const records = cookieRecords(
    nodeCookieJar(req, res, settings.secure),
    ctx.sealer,
    settings,
    url,
  );
  // One Logto client per request: its cookie storage holds what the callback just stored.
  let nodeClient: ReturnType<LogtoClient['createNodeClientFromNextApi']> | undefined;
  const client = () => {
    nodeClient ??= ctx.logtoClient.createNodeClientFromNextApi(req, res);
    return nodeClient;
  };
  const api = res as NextApiResponse;
  return {
    req,
    ...nodeRequestFacts(req),
    ...records,
    readForm: () => readForm(req),
    userId: async () => signedInUserId(await ctx.getUser(req, res)),
    async handleSignIn() {
      // The record is written once @logto/next has made the authorization request.
      onRedirect(api, 302, records.tieStart);
      await inner!(req as NextApiRequest, api);
    },
    ...logtoCallbackCalls(client, () => url),
    async signOut() {
      // 303: the provider's end-session endpoint is reached with a GET, not a repeated POST.
      onRedirect(api, 303, () => {});
      await inner!(req as NextApiRequest, api);
    },
    redirect(location, status) {
      res.setHeader('Location', location);
      sendAnswer(res, status, 'text/plain; charset=utf-8', '');
    },
    html: (status, body) => sendAnswer(res, status, 'text/html; charset=utf-8', body),
  };
}
