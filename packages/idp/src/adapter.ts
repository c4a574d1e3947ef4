import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { ApplicationRow, Store } from './store/types.js';

/** Models that are removed together when their grant is revoked or consumed. */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'ClientCredentials',
  'Grant',
  'BackchannelAuthenticationRequest',
]);

/**
 * Client metadata for an application row. Clients live in the `applications` table (created by
 * the admin API and CLI), not in oidc-provider's model table, so they are read-only here.
 */
export function clientMetadata(app: ApplicationRow): AdapterPayload {
  if (app.type === 'm2m') {
    return {
      client_id: app.id,
      client_secret: app.secret,
      client_name: app.name,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    };
  }
  return {
    client_id: app.id,
    client_secret: app.secret,
    client_name: app.name,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: app.redirectUris,
    post_logout_redirect_uris: app.postLogoutRedirectUris,
    // Basic and post are interchangeable in oidc-provider for secret-based methods.
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

/**
 * Builds oidc-provider's `adapter` factory over a {@link Store}. Expiry is enforced on read (an
 * expired row is absent) and rows are swept periodically by the provider.
 */
export function createAdapterFactory(store: Store): (model: string) => Adapter {
  return (model) => {
    if (model === 'Client') {
      return {
        async find(id) {
          const app = await store.findApplication(id);
          return app && clientMetadata(app);
        },
        async upsert() {
          throw new TypeError('clients are managed through createApplication()');
        },
        async findByUid() {},
        async findByUserCode() {},
        async consume() {},
        async destroy() {},
        async revokeByGrantId() {},
      };
    }

    const withConsumed = (row: { payload: Record<string, unknown>; consumedAt: number | null }) =>
      (row.consumedAt == null
        ? row.payload
        : { ...row.payload, consumed: Math.floor(row.consumedAt / 1000) }) as AdapterPayload;

    return {
      async upsert(id, payload, expiresIn) {
        await store.modelUpsert(model, id, {
          payload: payload as Record<string, unknown>,
          expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : null,
          grantId: GRANTABLE.has(model) ? (payload.grantId ?? null) : null,
          userCode: payload.userCode ?? null,
          uid: payload.uid ?? null,
        });
      },
      async find(id) {
        const row = await store.modelFind(model, id, Date.now());
        return row && withConsumed(row);
      },
      async findByUid(uid) {
        const row = await store.modelFindByUid(model, uid, Date.now());
        return row && withConsumed(row);
      },
      async findByUserCode(userCode) {
        const row = await store.modelFindByUserCode(model, userCode, Date.now());
        return row && withConsumed(row);
      },
      async consume(id) {
        await store.modelConsume(model, id, Date.now());
      },
      async destroy(id) {
        await store.modelDestroy(model, id);
      },
      async revokeByGrantId(grantId) {
        await store.modelRevokeByGrantId(grantId);
      },
    };
  };
}
