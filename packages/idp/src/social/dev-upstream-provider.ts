import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { DevUpstreamUser } from './dev-upstream.js';

/**
 * The development upstream's `oidc-provider`: one confidential client, implied consent, refresh
 * tokens on every code exchange and any loopback http redirect URI.
 */

function isLoopbackHttp(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      url.protocol === 'http:' &&
      ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) &&
      url.hash === ''
    );
  } catch {
    return false;
  }
}

export interface UpstreamClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  users: ReadonlyMap<string, DevUpstreamUser>;
}

export async function createUpstreamProvider(
  issuer: string,
  { clientId, clientSecret, redirectUris, users: byId }: UpstreamClient,
): Promise<Provider> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'dev-upstream' };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: {
      // Distinct from the provider's names: both run on one host, and cookies ignore ports.
      names: {
        session: 'dev_upstream_session',
        interaction: 'dev_upstream_interaction',
        resume: 'dev_upstream_interaction_resume',
      },
      keys: [randomBytes(32).toString('base64url')],
    },
    claims: {
      openid: ['sub'],
      profile: ['name', 'picture'],
      email: ['email', 'email_verified'],
      phone: ['phone_number', 'phone_number_verified'],
    },
    findAccount: async (_ctx, id) => {
      const user = byId.get(id);
      if (!user) return undefined;
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          name: user.name,
          ...(user.picture ? { picture: user.picture } : {}),
          ...(user.email ? { email: user.email, email_verified: true } : {}),
          ...(user.phone ? { phone_number: user.phone, phone_number_verified: true } : {}),
        }),
      };
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, details) => `/interaction/${details.uid}` },
    // Consent is implied for the demo client: grant whatever it asked for.
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      const grant =
        (grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined) ??
        new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(String(ctx.oidc.params?.scope ?? 'openid'));
      await grant.save();
      return grant;
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    pkce: { required: () => false },
    // Explicit lifetimes (seconds) keep oidc-provider's "default ttl" notices out of the logs.
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      Grant: 14 * 24 * 3600,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
    },
  });
  const original = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value: string) {
    return isLoopbackHttp(value) || original.call(this, value);
  };
  return provider;
}
