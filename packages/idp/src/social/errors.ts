/**
 * Error codes raised by the social sign-in layer. Stable strings: pages and APIs switch on them.
 *
 * - `invalid_connector_config`: a connector record or its `config` failed validation.
 * - `duplicate_connector`: two records share an `id` or a `target` (R22: one IdP name each).
 * - `connector_not_found`: no enabled connector with that id.
 * - `invalid_state`: the callback's `state` is missing or does not match the session.
 * - `invalid_session`: the stored session does not belong to this connector or redirect URI.
 * - `access_denied`: the user (or the upstream) refused the authorization.
 * - `upstream_error`: the upstream answered the callback with another `error=` value.
 * - `missing_code`: the callback carries neither `code` nor `error`.
 * - `social_auth_failed`: exchanging the code or reading the profile failed (bad code, bad client
 *   credentials, unreachable upstream, unexpected response).
 * - `token_storage_unsupported`: the connector cannot hand out the upstream's tokens.
 * - `token_refresh_failed`: the upstream refused a refresh token, or none was stored.
 * - `vault_unavailable`: tokens were asked for but the host has no vault.
 * - `invalid_vault_key`: `GUESTMODE_IDP_VAULT_KEY` is not 32 bytes in base64url or hex.
 * - `vault_decrypt_failed`: a sealed box was tampered with, truncated, or sealed with another key.
 * - `development_only`: a development-only component was started with `NODE_ENV=production`, or
 *   on a non-loopback address without the development switch.
 */
export type SocialErrorCode =
  | 'invalid_connector_config'
  | 'duplicate_connector'
  | 'connector_not_found'
  | 'invalid_state'
  | 'invalid_session'
  | 'access_denied'
  | 'upstream_error'
  | 'missing_code'
  | 'social_auth_failed'
  | 'token_storage_unsupported'
  | 'token_refresh_failed'
  | 'vault_unavailable'
  | 'invalid_vault_key'
  | 'vault_decrypt_failed'
  | 'development_only';

const defaultStatus: Record<SocialErrorCode, number> = {
  invalid_connector_config: 400,
  duplicate_connector: 409,
  connector_not_found: 404,
  invalid_state: 400,
  invalid_session: 400,
  access_denied: 403,
  upstream_error: 400,
  missing_code: 400,
  social_auth_failed: 400,
  token_storage_unsupported: 400,
  token_refresh_failed: 400,
  vault_unavailable: 400,
  invalid_vault_key: 400,
  vault_decrypt_failed: 400,
  development_only: 400,
};

/**
 * An error of the social layer, in the style of `jose` and `oidc-provider`: a stable string
 * `code` and an HTTP `status` below 500. Messages never contain client secrets, codes or tokens;
 * a wrapped third-party error travels in `cause` (log it only at debug level).
 *
 * @example
 * ```ts
 * try { await host.handleCallback(id, { query, session, redirectUri }); }
 * catch (error) { if (error instanceof SocialError && error.code === 'access_denied') { ... } }
 * ```
 */
export class SocialError extends Error {
  /** Stable machine-readable code, see {@link SocialErrorCode}. */
  readonly code: SocialErrorCode;
  /** HTTP status to answer with; always below 500. */
  readonly status: number;

  constructor(
    code: SocialErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SocialError';
    this.code = code;
    this.status = options?.status ?? defaultStatus[code];
  }
}
