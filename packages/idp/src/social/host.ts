import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { GuestmodeError } from '@guestmode/core';
import { ConnectorError, type ConnectorSession, type TokenResponse } from '@logto/connector-kit';
import { type ConnectorRecord, parseConnectorRecord } from './connectors.js';
import { callConnector, type Entry, loadConnectors, normaliseUserInfo } from './host-connectors.js';
import { type TokenVault, tokenBoxOwner } from './vault.js';

/** The profile a connector returns, already mapped (for OAuth 2.0, through `profileMap`). */
export interface SocialUserInfo {
  id: string;
  name?: string;
  avatar?: string;
  email?: string;
  phone?: string;
  rawData?: unknown;
}

/** What {@link SocialHost} seals in the vault: the JSON inside `tokens.encrypted`. */
export interface StoredSocialTokens {
  accessToken: string;
  tokenType?: string;
  refreshToken?: string;
  idToken?: string;
  scope?: string;
  /** Seconds since the epoch, when the upstream said how long the access token lives. */
  expiresAt?: number;
  /** Seconds since the epoch. */
  obtainedAt: number;
}

/** A connector as the sign-in page needs it: no configuration, no secrets. */
export interface SocialButton {
  id: string;
  target: string;
  name: { en: string; ja?: string };
  logo?: string;
}

/** Compares in constant time for equal-length digests, so length leaks nothing either. */
function safeEqual(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

function toStoredTokens(
  response: TokenResponse,
  previous?: StoredSocialTokens,
): StoredSocialTokens {
  if (typeof response.access_token !== 'string' || response.access_token.length === 0) {
    throw new GuestmodeError('social_auth_failed', 'The token response has no access_token');
  }
  const now = Math.floor(Date.now() / 1000);
  // Some providers (Azure) send expires_in as a string; a missing one means "unknown".
  const expiresIn = Number(response.expires_in);
  const refreshToken = response.refresh_token ?? previous?.refreshToken;
  const idToken = response.id_token ?? previous?.idToken;
  const scope = response.scope ?? previous?.scope;
  return {
    accessToken: response.access_token,
    ...(response.token_type ? { tokenType: response.token_type } : {}),
    ...(refreshToken ? { refreshToken } : {}),
    ...(idToken ? { idToken } : {}),
    ...(scope ? { scope } : {}),
    ...(Number.isFinite(expiresIn) && expiresIn > 0 ? { expiresAt: now + expiresIn } : {}),
    obtainedAt: now,
  };
}

/**
 * Hosts Logto's social connector packages (`@logto/connector-oauth`, `@logto/connector-amazon`)
 * through their connector-kit interface, adding what Logto's core adds around them: an
 * unguessable `state` checked in constant time (the connectors check none), upstream `error=`
 * handling, and encrypted token storage.
 *
 * The host is stateless: {@link SocialHost.authorizationUrl} returns a `session` object that the
 * caller keeps server-side (bound to the browser's interaction) and hands back to
 * {@link SocialHost.handleCallback}.
 *
 * @example
 * ```ts
 * const host = await SocialHost.create(records, { endpoint: 'http://localhost:3001', vault });
 * const redirectUri = host.callbackUri('github');
 * const { url, session } = await host.authorizationUrl('github', { redirectUri, jti: interactionId });
 * // store `session`, redirect to `url`; then on GET /callback/github:
 * const { userInfo, tokens } = await host.handleCallback('github', { query, session, redirectUri });
 * ```
 */
export class SocialHost {
  readonly #entries: Map<string, Entry>;
  readonly #vault: TokenVault | undefined;
  /** The provider's origin (no trailing slash), used for callback URLs. */
  readonly endpoint: string;

  private constructor(endpoint: string, entries: Map<string, Entry>, vault?: TokenVault) {
    this.endpoint = endpoint;
    this.#entries = entries;
    this.#vault = vault;
  }

  /**
   * Validates every record (again, with {@link parseConnectorRecord}) and instantiates its
   * connector.
   *
   * @throws GuestmodeError `invalid_connector_config`, or `duplicate_connector` naming the repeated
   *   `id` or `target` (one IdP name per connector, disabled ones included, since stored
   *   identities keep referring to their target).
   */
  static async create(
    connectors: ConnectorRecord[],
    options: { endpoint: string; vault?: TokenVault },
  ): Promise<SocialHost> {
    let endpoint: URL;
    try {
      endpoint = new URL(options.endpoint);
    } catch (cause) {
      throw new TypeError('options.endpoint must be an absolute URL', { cause });
    }
    if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
      throw new TypeError('options.endpoint must be an http(s) URL');
    }
    const entries = await loadConnectors(connectors, options.vault !== undefined);
    return new SocialHost(
      endpoint.origin + endpoint.pathname.replace(/\/+$/, ''),
      entries,
      options.vault,
    );
  }

  /** The enabled connectors, in configuration order, for the sign-in page's buttons. */
  list(): SocialButton[] {
    return [...this.#entries.values()]
      .filter(({ record }) => record.enabled)
      .map(({ record }) => ({
        id: record.id,
        target: record.target,
        name: { ...record.name },
        ...(record.logo === undefined ? {} : { logo: record.logo }),
      }));
  }

  /** A record without its `config` (no secrets), e.g. for `syncProfile` and `target`. */
  connector(connectorId: string): Omit<ConnectorRecord, 'config'> | undefined {
    const entry = this.#entries.get(connectorId);
    if (!entry) return undefined;
    const { config: _config, ...rest } = entry.record;
    return { ...rest, name: { ...rest.name } };
  }

  /** `<endpoint>/callback/<connectorId>`, the redirect URI to register at the upstream. */
  callbackUri(connectorId: string): string {
    return `${this.endpoint}/callback/${encodeURIComponent(connectorId)}`;
  }

  #enabled(connectorId: string): Entry {
    const entry = this.#entries.get(connectorId);
    if (!entry?.record.enabled) {
      throw new GuestmodeError('connector_not_found', 'No enabled social connector has this id');
    }
    return entry;
  }

  /**
   * Builds the upstream authorization URL with a fresh unguessable `state`.
   *
   * @param options.jti - the provider's interaction id (connector-kit passes it to connectors).
   * @param options.scope - overrides the configured scope (e.g. for account linking).
   * @returns `url` to redirect the browser to, and `session`: a JSON-serialisable object holding
   *   what the connector stored through `setSession` plus `state`, `connectorId`,
   *   `connectorFactoryId` and `jti`. Keep it server-side only (it holds the state), for one
   *   callback, and delete it once used.
   */
  async authorizationUrl(
    connectorId: string,
    options: { redirectUri: string; jti: string; scope?: string; userAgent?: string },
  ): Promise<{ url: string; session: Record<string, unknown> }> {
    const { record, connector } = this.#enabled(connectorId);
    const state = randomBytes(32).toString('base64url');
    let stored: ConnectorSession = {};
    const url = await callConnector(record, () =>
      connector.getAuthorizationUri(
        {
          state,
          redirectUri: options.redirectUri,
          connectorId: record.id,
          connectorFactoryId: record.factoryId,
          jti: options.jti,
          headers: options.userAgent === undefined ? {} : { userAgent: options.userAgent },
          ...(options.scope === undefined ? {} : { scope: options.scope }),
        },
        async (storage) => {
          stored = { ...stored, ...storage };
        },
      ),
    );
    // Our keys go last so a connector cannot overwrite the state it is checked against.
    const session: Record<string, unknown> = {
      ...stored,
      redirectUri: stored.redirectUri ?? options.redirectUri,
      connectorId: record.id,
      connectorFactoryId: record.factoryId,
      jti: options.jti,
      state,
    };
    return { url, session };
  }

  /**
   * Completes the upstream sign-in on `GET <endpoint>/callback/<connectorId>`: checks `state`,
   * turns `?error=` into a {@link GuestmodeError}, exchanges the code and reads the profile.
   *
   * @param options.query - the callback's query parameters.
   * @param options.session - the object {@link SocialHost.authorizationUrl} returned.
   * @param options.redirectUri - the redirect URI used for the authorization request.
   * @returns the mapped profile, and `tokens.encrypted` (a {@link TokenVault} box of
   *   {@link StoredSocialTokens} JSON) when the record has `storeTokens` and the host a vault.
   * @throws GuestmodeError `invalid_session`, `invalid_state`, `access_denied`, `upstream_error`,
   *   `missing_code`, `social_auth_failed`, `connector_not_found`.
   */
  async handleCallback(
    connectorId: string,
    options: {
      query: Record<string, string>;
      session: Record<string, unknown>;
      redirectUri: string;
    },
  ): Promise<{ userInfo: SocialUserInfo; tokens?: { encrypted: string } }> {
    const { record, factory, connector } = this.#enabled(connectorId);
    const { query, session } = options;
    if (session.connectorId !== record.id || session.redirectUri !== options.redirectUri) {
      throw new GuestmodeError(
        'invalid_session',
        'The sign-in session does not belong to this connector; start the sign-in again',
      );
    }
    const expected = session.state;
    const received = query.state;
    if (
      typeof expected !== 'string' ||
      expected.length === 0 ||
      typeof received !== 'string' ||
      !safeEqual(expected, received)
    ) {
      throw new GuestmodeError(
        'invalid_state',
        'The sign-in response does not match this browser session (state mismatch); start the sign-in again',
      );
    }
    if (query.error !== undefined) {
      // Only a short token-like error code goes into the message: the rest is upstream-controlled.
      const code = /^[\w.-]{1,64}$/.test(query.error) ? query.error : 'unknown';
      if (code === 'access_denied') {
        throw new GuestmodeError(
          'access_denied',
          `Sign-in with ${record.name.en} was cancelled or denied`,
        );
      }
      throw new GuestmodeError(
        'upstream_error',
        `${record.name.en} answered the sign-in with the error "${code}"`,
      );
    }
    if (typeof query.code !== 'string' || query.code.length === 0) {
      throw new GuestmodeError(
        'missing_code',
        `${record.name.en} returned neither a code nor an error`,
      );
    }

    const getSession = async () => ({ ...session }) as ConnectorSession;
    const wantTokens = record.storeTokens && this.#vault !== undefined;
    const getTokens = connector.getTokenResponseAndUserInfo;
    if (wantTokens && factory.tokenStorageSupported && getTokens) {
      const { tokenResponse, userInfo } = await callConnector(record, () =>
        getTokens({ ...query }, getSession),
      );
      const result: { userInfo: SocialUserInfo; tokens?: { encrypted: string } } = {
        userInfo: normaliseUserInfo(record, userInfo),
      };
      if (tokenResponse?.access_token) {
        const stored = toStoredTokens(tokenResponse);
        const owner = tokenBoxOwner(record.target, result.userInfo.id);
        result.tokens = { encrypted: this.#vault!.encrypt(JSON.stringify(stored), owner) };
      }
      return result;
    }
    const userInfo = await callConnector(record, () =>
      connector.getUserInfo({ ...query }, getSession),
    );
    return { userInfo: normaliseUserInfo(record, userInfo) };
  }

  /**
   * Opens a token box made by this host (e.g. for the management API's "get stored tokens").
   * `identity` is the row the box was read from: a box sealed for another identity is refused.
   *
   * @throws GuestmodeError `vault_unavailable`, `vault_decrypt_failed`.
   */
  readTokens(
    encrypted: string,
    identity: { readonly target: string; readonly identityId: string },
  ): StoredSocialTokens {
    if (!this.#vault) {
      throw new GuestmodeError(
        'vault_unavailable',
        'No token vault is configured (GUESTMODE_IDP_VAULT_KEY)',
      );
    }
    const plaintext = this.#vault.decrypt(
      encrypted,
      tokenBoxOwner(identity.target, identity.identityId),
    );
    try {
      const parsed = JSON.parse(plaintext) as StoredSocialTokens;
      if (typeof parsed.accessToken !== 'string') throw new Error('no accessToken');
      return parsed;
    } catch (cause) {
      throw new GuestmodeError(
        'vault_decrypt_failed',
        'The token box does not hold social tokens',
        {
          cause,
        },
      );
    }
  }

  /**
   * Uses the stored refresh token (granted with `offline_access`) to get a fresh access
   * token through the OAuth connector's `getAccessTokenByRefreshToken`. A refresh response
   * without a new refresh token keeps the old one.
   *
   * @returns the new box, and its decrypted content for immediate use.
   * @throws GuestmodeError `token_storage_unsupported`, `token_refresh_failed`, `vault_unavailable`,
   *   `vault_decrypt_failed`, `connector_not_found`.
   */
  async refreshTokens(
    connectorId: string,
    encrypted: string,
    identityId: string,
  ): Promise<{ encrypted: string; tokens: StoredSocialTokens }> {
    const { record, factory, connector } = this.#enabled(connectorId);
    const refresh = connector.getAccessTokenByRefreshToken;
    if (!factory.tokenStorageSupported || !refresh) {
      throw new GuestmodeError(
        'token_storage_unsupported',
        `The ${record.factoryId} connector cannot refresh tokens`,
      );
    }
    const identity = { target: record.target, identityId };
    const previous = this.readTokens(encrypted, identity);
    if (!previous.refreshToken) {
      throw new GuestmodeError(
        'token_refresh_failed',
        'No refresh token is stored; request the offline_access scope to get one',
      );
    }
    const refreshToken = previous.refreshToken;
    let response: TokenResponse;
    try {
      response = await refresh(refreshToken);
    } catch (cause) {
      const detail = cause instanceof ConnectorError ? ` (${cause.code})` : '';
      throw new GuestmodeError(
        'token_refresh_failed',
        `${record.name.en} refused to refresh the access token${detail}`,
        { cause },
      );
    }
    const tokens = toStoredTokens(response, previous);
    const owner = tokenBoxOwner(identity.target, identity.identityId);
    return { encrypted: this.#vault!.encrypt(JSON.stringify(tokens), owner), tokens };
  }
}
