import type { IncomingMessage, ServerResponse } from 'node:http';
import { GuestmodeError } from '@guestmode/core';
import type { RouteContext } from './context.js';
import { type Router, redirect, sendHtml } from './http.js';
import { pickLocale } from './i18n.js';
import { SOCIAL_SESSION_TTL, secureCookies } from './interaction-routes.js';
import { messagePage } from './pages.js';
import { bindBrowser, isBoundBrowser, unbindBrowser } from './social-binding.js';

/** The account id of the browser's provider session, if signed in. */
async function sessionAccountId(
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<string | undefined> {
  const session = await ctx.provider.Session.get(ctx.provider.createContext(req, res));
  return session.accountId;
}

function withQuery(target: string, params: Record<string, string>): string {
  const url = new URL(target);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.href;
}

/**
 * Starts linking a social account to a signed-in user (account API): same authorization flow as
 * sign-in, remembered in "link" mode with the user and where to return. The URL returned is the
 * provider's own `/social/link/<state>`, which binds the browser before sending it upstream.
 */
export async function startLink(
  ctx: RouteContext,
  input: { userId: string; connectorId: string; returnTo: string; userAgent?: string },
): Promise<{ url: string }> {
  const social = ctx.social();
  if (!social) throw new GuestmodeError('not_found', 'no social connectors are configured');
  const redirectUri = social.callbackUri(input.connectorId);
  const { url, session } = await social.authorizationUrl(input.connectorId, {
    redirectUri,
    jti: `link-${input.userId}`,
    ...(input.userAgent ? { userAgent: input.userAgent } : {}),
  });
  await ctx.store.insertSocialSession({
    id: String(session.state),
    connectorId: input.connectorId,
    mode: 'link',
    interactionUid: null,
    userId: input.userId,
    returnTo: input.returnTo,
    session,
    result: null,
    expiresAt: Date.now() + SOCIAL_SESSION_TTL,
    authorizationUrl: url,
  });
  return { url: `${ctx.endpoint}/social/link/${encodeURIComponent(String(session.state))}` };
}

function localeOf(req: IncomingMessage) {
  const header = req.headers['accept-language'];
  return pickLocale(undefined, typeof header === 'string' ? header : undefined);
}

function invalidLink(res: ServerResponse, req: IncomingMessage) {
  sendHtml(
    res,
    400,
    messagePage(localeOf(req), 'Sign-in', 'This sign-in link is invalid or has expired.'),
  );
}

/**
 * `GET /social/link/:sid`, where an account link starts in the browser: only a browser signed in
 * (at this provider) as the user who asked may go on; it is bound to the flow, then sent upstream.
 * `GET /callback/:connectorId`: the redirect URI registered at every upstream.
 */
export function socialRoutes(router: Router, ctx: RouteContext) {
  router.on('GET', '/social/link/:sid', async (rc) => {
    const row = await ctx.store.findSocialSession(rc.params.sid!, Date.now());
    if (row?.mode !== 'link' || !row.authorizationUrl || !row.returnTo || row.result) {
      return invalidLink(rc.res, rc.req);
    }
    const accountId = await sessionAccountId(ctx, rc.req, rc.res);
    if (!accountId || accountId !== row.userId) {
      // A link URL opened by someone else would attach *their* social account to the sender.
      await ctx.store.deleteSocialSession(row.id);
      return redirect(rc.res, withQuery(row.returnTo, { error: 'session_mismatch' }));
    }
    bindBrowser(rc.res, row.id, secureCookies(ctx), Math.max(row.expiresAt - Date.now(), 1000));
    redirect(rc.res, row.authorizationUrl);
  });

  router.on('GET', '/callback/:connectorId', async (rc) => {
    const locale = localeOf(rc.req);
    const secure = secureCookies(ctx);
    const query = Object.fromEntries(rc.url.searchParams);
    const social = ctx.social();
    const row =
      typeof query.state === 'string'
        ? await ctx.store.findSocialSession(query.state, Date.now())
        : undefined;
    if (!social || !row || row.connectorId !== rc.params.connectorId || row.result) {
      // Unknown or reused state: nothing to resume, and nothing to tell an attacker.
      return invalidLink(rc.res, rc.req);
    }
    if (!isBoundBrowser(rc.req, row.id, secure)) {
      // The state came back in a browser that did not start this flow: someone sent their
      // upstream URL to someone else. Refused before the code is exchanged, and the flow ends.
      await ctx.store.deleteSocialSession(row.id);
      sendHtml(
        rc.res,
        400,
        messagePage(
          locale,
          'Sign-in',
          'This sign-in was started in another browser. Start it again from the app you use.',
        ),
      );
      return;
    }
    if (row.mode === 'link') {
      // Link mode: only the user who asked may finish, in a browser signed in as them; checked
      // before the code is exchanged too.
      await ctx.store.deleteSocialSession(row.id);
      unbindBrowser(rc.res, row.id, secure);
      const accountId = await sessionAccountId(ctx, rc.req, rc.res);
      if (!accountId || accountId !== row.userId) {
        return redirect(rc.res, withQuery(row.returnTo!, { error: 'session_mismatch' }));
      }
    }

    let outcome: Awaited<ReturnType<typeof social.handleCallback>>;
    try {
      outcome = await social.handleCallback(row.connectorId, {
        query,
        session: row.session,
        redirectUri: social.callbackUri(row.connectorId),
      });
    } catch (error) {
      if (!(error instanceof GuestmodeError)) throw error;
      await ctx.store.deleteSocialSession(row.id);
      unbindBrowser(rc.res, row.id, secure);
      if (row.mode === 'link' && row.returnTo) {
        return redirect(rc.res, withQuery(row.returnTo, { error: error.code }));
      }
      return redirect(
        rc.res,
        `/interaction/${encodeURIComponent(row.interactionUid ?? '')}?error=social_failed`,
      );
    }

    if (row.mode === 'sign-in') {
      await ctx.store.setSocialSessionResult(row.id, outcome as unknown as Record<string, unknown>);
      return redirect(
        rc.res,
        `/interaction/${encodeURIComponent(row.interactionUid!)}/social-complete/${encodeURIComponent(row.id)}`,
      );
    }

    const returnTo = row.returnTo!;
    const record = social.connector(row.connectorId)!;
    try {
      await ctx.accounts.linkIdentity({
        userId: row.userId!,
        target: record.target,
        profile: outcome.userInfo,
        ...(outcome.tokens ? { tokens: outcome.tokens.encrypted } : {}),
      });
    } catch (error) {
      if (error instanceof GuestmodeError) {
        return redirect(rc.res, withQuery(returnTo, { error: error.code }));
      }
      throw error;
    }
    redirect(rc.res, withQuery(returnTo, { linked: record.target }));
  });
}
