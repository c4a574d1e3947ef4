import { GuestmodeError } from '@guestmode/core';
import { createLocalJWKSet, type JWK, jwtVerify } from 'jose';
import { identityJson, userJson } from './api-shapes.js';
import type { RouteContext } from './context.js';
import { bearerToken, type RequestContext, type Router, readJson, sendJson } from './http.js';
import { MANAGEMENT_RESOURCE, MANAGEMENT_SCOPE } from './provider.js';

function publicJwk({ d: _d, ...jwk }: JWK): JWK {
  return jwk;
}

/**
 * The management API under `/api`, for administrators holding a machine-to-machine access
 * token for {@link MANAGEMENT_RESOURCE} with scope `all` (client credentials grant), as in
 * Logto. Paths follow Logto's Management API.
 */
export function managementApi(router: Router, ctx: RouteContext, signingKeys: JWK[]) {
  const jwks = createLocalJWKSet({ keys: signingKeys.map(publicJwk) });

  const authenticate = async (rc: RequestContext) => {
    const value = bearerToken(rc.req);
    if (!value) throw new GuestmodeError('unauthorized', 'a Bearer access token is required');
    try {
      const { payload } = await jwtVerify(value, jwks, {
        issuer: ctx.provider.issuer,
        audience: MANAGEMENT_RESOURCE,
        algorithms: ['ES384'],
        typ: 'at+jwt',
      });
      if (
        !String(payload.scope ?? '')
          .split(' ')
          .includes(MANAGEMENT_SCOPE)
      ) {
        throw new GuestmodeError(
          'forbidden',
          `the access token lacks the "${MANAGEMENT_SCOPE}" scope`,
        );
      }
    } catch (error) {
      if (error instanceof GuestmodeError) throw error;
      throw new GuestmodeError('unauthorized', 'the access token is invalid or expired', {
        cause: error,
      });
    }
  };

  const userOr404 = async (userId: string) => {
    const user = await ctx.store.findUser(userId);
    if (!user) throw new GuestmodeError('not_found', 'no such user');
    return user;
  };

  const positiveInt = (value: string | null, name: string, fallback: number, max: number) => {
    if (value === null) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      throw new GuestmodeError('invalid_request', `${name} must be an integer from 1 to ${max}`);
    }
    return n;
  };

  router.on('GET', '/api/users', async (rc) => {
    await authenticate(rc);
    const page = positiveInt(rc.url.searchParams.get('page'), 'page', 1, 1_000_000);
    const pageSize = positiveInt(rc.url.searchParams.get('page_size'), 'page_size', 20, 100);
    const { users, total } = await ctx.store.listUsers({
      limit: pageSize,
      offset: (page - 1) * pageSize,
    });
    rc.res.setHeader('Total-Number', String(total));
    sendJson(rc.res, 200, users.map(userJson));
  });

  router.on('POST', '/api/users', async (rc) => {
    await authenticate(rc);
    const body = await readJson(rc.req);
    const user = await ctx.accounts.createUser({
      username: body.username,
      password: body.password,
      name: body.name,
      email: body.primaryEmail ?? body.email,
    });
    sendJson(rc.res, 201, userJson(user));
  });

  router.on('GET', '/api/users/:userId', async (rc) => {
    await authenticate(rc);
    sendJson(rc.res, 200, userJson(await userOr404(rc.params.userId!)));
  });

  router.on('GET', '/api/users/:userId/identities', async (rc) => {
    await authenticate(rc);
    const user = await userOr404(rc.params.userId!);
    sendJson(rc.res, 200, (await ctx.store.listIdentities(user.id)).map(identityJson));
  });

  // The only place stored social tokens leave the database decrypted: an explicit call,
  // for server-side use, by an administrator.
  router.on('GET', '/api/users/:userId/identities/:target/tokens', async (rc) => {
    await authenticate(rc);
    const user = await userOr404(rc.params.userId!);
    const identity = (await ctx.store.listIdentities(user.id)).find(
      (row) => row.target === rc.params.target,
    );
    if (!identity)
      throw new GuestmodeError('not_found', `the user has no identity for ${rc.params.target}`);
    if (!identity.tokens)
      throw new GuestmodeError('not_found', 'no tokens are stored for this identity');
    const social = ctx.social();
    if (!social) throw new GuestmodeError('not_found', 'no social connectors are configured');
    sendJson(rc.res, 200, {
      target: identity.target,
      tokens: social.readTokens(identity.tokens, identity),
    });
  });

  router.on('DELETE', '/api/users/:userId/identities/:target', async (rc) => {
    await authenticate(rc);
    const force = rc.url.searchParams.get('force') === 'true';
    await ctx.accounts.unlinkIdentity(rc.params.userId!, rc.params.target!, { force });
    sendJson(rc.res, 204);
  });
}
