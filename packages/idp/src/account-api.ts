import { GuestmodeError } from '@guestmode/core';
import { identityJson, userJson } from './api-shapes.js';
import type { RouteContext } from './context.js';
import { bearerToken, type RequestContext, type Router, readJson, sendJson } from './http.js';
import { startLink } from './social-routes.js';

/**
 * The account API for a signed-in user, under `/api/my-account`, authenticated with the
 * opaque access token the SDK holds for the user (the one `/oidc/me` accepts).
 */
export function accountApi(router: Router, ctx: RouteContext) {
  const authenticate = async (rc: RequestContext) => {
    const value = bearerToken(rc.req);
    if (!value) throw new GuestmodeError('unauthorized', 'a Bearer access token is required');
    const token = await ctx.provider.AccessToken.find(value);
    if (!token?.accountId || !token.scope?.split(' ').includes('openid')) {
      throw new GuestmodeError('unauthorized', 'the access token is invalid or expired');
    }
    const user = await ctx.store.findUser(token.accountId);
    if (!user) throw new GuestmodeError('unauthorized', 'the access token is invalid or expired');
    return { user, clientId: token.clientId };
  };

  router.on('GET', '/api/my-account', async (rc) => {
    const { user } = await authenticate(rc);
    const identities = await ctx.store.listIdentities(user.id);
    sendJson(rc.res, 200, { ...userJson(user), identities: identities.map(identityJson) });
  });

  router.on('GET', '/api/my-account/identities', async (rc) => {
    const { user } = await authenticate(rc);
    sendJson(rc.res, 200, (await ctx.store.listIdentities(user.id)).map(identityJson));
  });

  // Returns the upstream URL to send the browser to; after the upstream, the callback links the
  // identity and redirects to `returnTo` with `?linked=<target>` or `?error=<code>`.
  router.on('POST', '/api/my-account/identities/:connectorId/link', async (rc) => {
    const { user, clientId } = await authenticate(rc);
    const body = await readJson(rc.req);
    if (typeof body.returnTo !== 'string') {
      throw new GuestmodeError('invalid_request', 'returnTo must be an absolute URL of your app');
    }
    let returnTo: URL;
    try {
      returnTo = new URL(body.returnTo);
    } catch {
      throw new GuestmodeError('invalid_request', 'returnTo must be an absolute URL of your app');
    }
    // Only back to the app that holds the token: no open redirect through the provider.
    const app = clientId ? await ctx.store.findApplication(clientId) : undefined;
    const origins = new Set(
      [...(app?.redirectUris ?? []), ...(app?.postLogoutRedirectUris ?? [])].map(
        (uri) => new URL(uri).origin,
      ),
    );
    if (!origins.has(returnTo.origin)) {
      throw new GuestmodeError(
        'invalid_request',
        "returnTo must be on one of the app's registered origins",
      );
    }
    const connectorId = rc.params.connectorId!;
    if (!ctx.social()?.connector(connectorId)?.enabled) {
      throw new GuestmodeError('not_found', `no enabled connector ${connectorId}`);
    }
    const ua = rc.req.headers['user-agent'];
    const { url } = await startLink(ctx, {
      userId: user.id,
      connectorId,
      returnTo: returnTo.href,
      ...(ua ? { userAgent: ua } : {}),
    });
    sendJson(rc.res, 200, { url });
  });

  router.on('DELETE', '/api/my-account/identities/:target', async (rc) => {
    const { user } = await authenticate(rc);
    await ctx.accounts.unlinkIdentity(user.id, rc.params.target!);
    sendJson(rc.res, 204);
  });
}
