import Provider, { type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider';
import { createAdapterFactory } from './adapter.js';
import { applicationSecretMatches } from './client-secret.js';
import type { ProviderKeys } from './keys.js';
import { errorPage, LOGOUT_CSP, logoutPage, messagePage, PAGE_CSP } from './pages.js';
import type { ResourceRow, Store, UserRow } from './store/types.js';

/** The management API's resource indicator; only machine-to-machine apps may request it. */
export const MANAGEMENT_RESOURCE = 'https://admin.guestmode.local/api';
/** The one scope of the management API, named like Logto's. */
export const MANAGEMENT_SCOPE = 'all';

const DAY = 24 * 60 * 60;

/** OIDC claims per scope, following Logto's names. */
const CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'username', 'picture', 'created_at', 'updated_at'],
  email: ['email', 'email_verified'],
  identities: ['identities'],
} satisfies Configuration['claims'];

/** Claims of a user, before oidc-provider filters them by the granted scopes. */
async function userClaims(store: Store, user: UserRow) {
  const identities = Object.fromEntries(
    (await store.listIdentities(user.id)).map((identity) => [
      identity.target,
      { userId: identity.identityId, details: identity.details },
    ]),
  );
  return {
    sub: user.id,
    name: user.name,
    username: user.username,
    picture: user.avatar,
    email: user.email,
    // Local accounts never verify email: say so rather than pretend.
    email_verified: user.email ? false : undefined,
    created_at: user.createdAt,
    updated_at: user.updatedAt,
    identities,
  };
}

function setSecurityHeaders(ctx: KoaContextWithOIDC, csp: string) {
  ctx.set('Content-Security-Policy', csp);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', 'no-store');
}

/**
 * How access tokens for a registered API resource look: ES384 JWTs whose audience is the
 * indicator, carrying at most the resource's scopes, living as long as the resource says.
 */
export function resourceServerInfo(resource: ResourceRow) {
  return {
    scope: resource.scopes.join(' '),
    audience: resource.indicator,
    accessTokenTTL: resource.accessTokenTtl,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES384' } },
  } as const;
}

/**
 * Creates the oidc-provider instance with Logto's behaviour: ES384 everywhere, JWT access
 * tokens for registered API resources, refresh tokens with `offline_access`, sign-out without a
 * confirmation click, and the sign-in pages of this package as interactions.
 */
export function createOidcProvider(options: {
  issuer: string;
  store: Store;
  keys: ProviderKeys;
  /** Whether cookies should carry `Secure` (https endpoints). */
  secure: boolean;
}): Provider {
  const { store } = options;

  const configuration: Configuration = {
    adapter: createAdapterFactory(store),
    jwks: { keys: options.keys.signing as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      // Cookies ignore ports: with the development upstream (also oidc-provider) on the same
      // host, the default names would overwrite each other in a real browser.
      names: {
        session: 'gm_idp_session',
        interaction: 'gm_idp_interaction',
        resume: 'gm_idp_interaction_resume',
      },
      keys: options.keys.cookie,
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure: options.secure },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: options.secure },
    },
    clientDefaults: {
      id_token_signed_response_alg: 'ES384',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES384'],
      userinfoSigningAlgValues: ['ES384'],
      introspectionSigningAlgValues: ['ES384'],
      authorizationSigningAlgValues: ['ES384'],
    },
    claims: CLAIMS,
    scopes: ['openid', 'offline_access', ...Object.keys(CLAIMS).filter((s) => s !== 'openid')],
    // Logto puts profile claims in the ID token; the SDKs read `claims` from it.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    // Logto's SDKs send these; `first_screen=register` opens the sign-up page.
    extraParams: ['first_screen', 'interaction_mode'],
    ttl: {
      AccessToken: 60 * 60,
      AuthorizationCode: 60,
      ClientCredentials: 60 * 60,
      IdToken: 60 * 60,
      Interaction: 60 * 60,
      Grant: 14 * DAY,
      RefreshToken: 14 * DAY,
      Session: 14 * DAY,
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx, form) {
          setSecurityHeaders(ctx, LOGOUT_CSP);
          ctx.type = 'html';
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource(ctx) {
          setSecurityHeaders(ctx, PAGE_CSP);
          ctx.type = 'html';
          ctx.body = messagePage('en', 'Signed out', 'You have been signed out.');
        },
      },
      resourceIndicators: {
        enabled: true,
        // Must stay false: otherwise the userinfo endpoint refuses the SDK's token.
        useGrantedResource: () => false,
        defaultResource: () => undefined,
        async getResourceServerInfo(_ctx, indicator, client) {
          const app = await store.findApplication(client.clientId);
          if (indicator === MANAGEMENT_RESOURCE) {
            if (app?.type !== 'm2m') {
              throw new errors.InvalidTarget('the management API is for machine-to-machine apps');
            }
            return {
              scope: MANAGEMENT_SCOPE,
              audience: MANAGEMENT_RESOURCE,
              accessTokenTTL: 60 * 60,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'ES384' } },
            };
          }
          const resource = await store.findResource(indicator);
          if (!resource) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          return resourceServerInfo(resource);
        },
      },
    },
    async findAccount(_ctx, sub) {
      const user = await store.findUser(sub);
      if (!user) return undefined;
      return { accountId: user.id, claims: () => userClaims(store, user) };
    },
    async renderError(ctx, out) {
      setSecurityHeaders(ctx, PAGE_CSP);
      ctx.type = 'html';
      ctx.body = errorPage(out.error, out.error_description);
    },
  };

  const provider = new Provider(options.issuer, configuration);
  // Clients carry the hash of their secret (see client-secret.ts). oidc-provider compares
  // client_secret_basic and client_secret_post through this method of its Client model, which
  // it keeps overridable for secrets stored one-way.
  provider.Client.prototype.compareClientSecret = function compareClientSecret(
    this: { clientSecret?: string },
    actual: string,
  ) {
    return Promise.resolve(applicationSecretMatches(this.clientSecret, actual));
  };
  // The HTTP server in front terminates nothing; trust X-Forwarded-* only when told to later.
  provider.proxy = false;
  return provider;
}
