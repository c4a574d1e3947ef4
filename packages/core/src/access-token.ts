import {
  createRemoteJWKSet,
  customFetch,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { hashSecret, looksLikeGuestCredential } from './credential.js';
import { GuestmodeError } from './errors.js';
import {
  checkInteger,
  checkObject,
  checkPositiveInteger,
  checkString,
  checkUrl,
  optionError,
  optionPath,
} from './options.js';

/**
 * Asymmetric algorithms only: an HMAC or `none` token can never pass, whatever the header says
 * (this closes algorithm confusion with the provider's public key). Logto signs ES384.
 */
export const DEFAULT_ACCESS_TOKEN_ALGORITHMS = [
  'ES384',
  'ES256',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
] as const;

export interface AccessTokenVerifierOptions {
  /** The provider's issuer, e.g. `https://tenant.logto.app/oidc` or `http://localhost:3001/oidc`. */
  readonly issuer: string;
  /** The API resource indicator(s) the token must be issued for (`aud`). */
  readonly audience: string | readonly string[];
  /** The JWKS URL. Default: `jwks_uri` from the issuer's discovery document. */
  readonly jwksUri?: string;
  /** Allowed `alg` values. Default: {@link DEFAULT_ACCESS_TOKEN_ALGORITHMS} (asymmetric only). */
  readonly algorithms?: readonly string[];
  /**
   * Required JWT `typ` header. Default `at+jwt` (RFC 9068, what Logto issues), which is also what
   * tells an access token from an ID token. `false` skips the check for providers that send
   * `JWT`; ID tokens are then still refused by their `nonce`/`at_hash` claims.
   */
  readonly typ?: string | false;
  /** Leeway for `exp`, `nbf` and `iat`, in seconds. Default 10. */
  readonly clockToleranceSeconds?: number;
  /**
   * Scopes the token must all carry. They are read from `scope` (RFC 9068, space-separated) or,
   * when the token has none, from `scp` (Microsoft Entra: space-separated, or a list). Default
   * none.
   */
  readonly requiredScopes?: readonly string[];
  /** How long fetched keys are trusted before a refetch, in ms. Default 10 minutes. */
  readonly jwksCacheMaxAgeMs?: number;
  /** Minimum time between refetches triggered by an unknown `kid`, in ms. Default 30 s. */
  readonly jwksCooldownMs?: number;
  /** Time limit of the discovery and JWKS requests, in ms. Default 5 s. */
  readonly timeoutMs?: number;
  /**
   * Remembers tokens that verified, so that a client sending the same access token again is not
   * charged another signature check (an elliptic-curve verification, costly CPU work). An entry lasts until the
   * token would be refused as expired or `maxAgeMs` has passed, whichever is first; `maxAgeMs`
   * stays below `jwksCacheMaxAgeMs`, so a key withdrawn from the JWKS stops being honoured no
   * later than without the cache. Keyed by the token's SHA-256; failures are never cached.
   * Default `{ maxEntries: 10_000, maxAgeMs: 60_000 }`; `false` verifies every time.
   */
  readonly cache?: { readonly maxEntries?: number; readonly maxAgeMs?: number } | false;
  /**
   * Clients whose own machine-to-machine tokens are accepted as if the client were a user. A
   * client-credentials token (RFC 9068 §2.2: its `sub` is the client's id, as Logto issues for
   * machine-to-machine apps) speaks for no user, so by default it is refused; a client listed
   * here is treated as a user whose id is its client id. Default none.
   */
  readonly allowClients?: readonly string[];
}

export interface VerifiedAccessToken {
  /** The user's id: the verified token's `sub`. */
  readonly userId: string;
  readonly claims: JWTPayload;
}

export interface AccessTokenVerifier {
  verify(token: string): Promise<VerifiedAccessToken>;
}

function invalid(message: string, cause?: unknown): GuestmodeError {
  return new GuestmodeError('invalid_access_token', message, cause ? { cause } : undefined);
}

/** The JWKS endpoint could not be reached, or answered that it is failing (5xx, 429). */
class KeysUnreachable extends Error {}

/**
 * Fetches the JWKS for jose, telling an unreachable or failing provider apart from a bad answer:
 * jose reports both as a generic error, and only the first is worth retrying.
 */
async function fetchKeys(url: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (cause) {
    // jose turns a timeout into its own JWKSTimeout.
    if ((cause as Error | null)?.name === 'TimeoutError') throw cause;
    throw new KeysUnreachable('The JWKS could not be fetched.', { cause });
  }
  if (response.status >= 500 || response.status === 429) {
    await response.body?.cancel();
    throw new KeysUnreachable(`The JWKS endpoint answered ${response.status}.`);
  }
  return response;
}

function describe(error: unknown): GuestmodeError {
  if (error instanceof GuestmodeError) return error;
  if (error instanceof KeysUnreachable) {
    return new GuestmodeError('provider_unavailable', "The provider's keys could not be fetched.", {
      cause: error,
    });
  }
  if (error instanceof joseErrors.JWTExpired)
    return invalid('The access token has expired.', error);
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return invalid(`The access token's "${error.claim}" claim is not acceptable.`, error);
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) {
    return invalid("The access token was not signed by one of the provider's keys.", error);
  }
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) {
    return new GuestmodeError('provider_unavailable', "The provider's keys could not be fetched.", {
      cause: error,
    });
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return invalid('The access token is signed with an algorithm that is not allowed.', error);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return invalid("The access token's signature is not valid.", error);
  }
  if (error instanceof joseErrors.JOSEError)
    return invalid('The access token is not valid.', error);
  if (error instanceof TypeError || error instanceof SyntaxError) {
    return invalid('The access token is malformed.', error);
  }
  // A network failure while fetching the JWKS.
  return new GuestmodeError('provider_unavailable', "The provider's keys could not be fetched.", {
    cause: error,
  });
}

/** Every key of {@link AccessTokenVerifierOptions}. */
const ACCESS_TOKEN_OPTION_KEYS = [
  'issuer',
  'audience',
  'jwksUri',
  'algorithms',
  'typ',
  'clockToleranceSeconds',
  'requiredScopes',
  'jwksCacheMaxAgeMs',
  'jwksCooldownMs',
  'timeoutMs',
  'cache',
  'allowClients',
] as const;

/** A list of non-empty strings, itself non-empty unless `allowEmpty`. */
function checkStringList(value: unknown, path: string, allowEmpty = false): readonly string[] {
  if (!Array.isArray(value) || (value.length === 0 && !allowEmpty)) {
    throw optionError(path, 'must be a non-empty list of strings');
  }
  for (const [i, item] of value.entries()) checkString(item, optionPath(path, i));
  return value;
}

function validateOptions(value: unknown, path: string): AccessTokenVerifierOptions {
  const o = checkObject(value, path, ACCESS_TOKEN_OPTION_KEYS);
  const at = (key: (typeof ACCESS_TOKEN_OPTION_KEYS)[number]) => optionPath(path, key);
  checkUrl(o.issuer, at('issuer'));
  if (o.jwksUri !== undefined) checkUrl(o.jwksUri, at('jwksUri'));
  if (typeof o.audience === 'string') checkString(o.audience, at('audience'));
  else checkStringList(o.audience, at('audience'));
  if (o.algorithms !== undefined) {
    for (const alg of checkStringList(o.algorithms, at('algorithms'))) {
      if (!(DEFAULT_ACCESS_TOKEN_ALGORITHMS as readonly string[]).includes(alg)) {
        throw optionError(
          at('algorithms'),
          `"${alg}" is not allowed (asymmetric JWS algorithms only)`,
        );
      }
    }
  }
  if (o.typ !== undefined && o.typ !== false) checkString(o.typ, at('typ'));
  const tolerance = o.clockToleranceSeconds;
  if (
    tolerance !== undefined &&
    !(typeof tolerance === 'number' && tolerance >= 0 && tolerance <= 300)
  ) {
    throw optionError(at('clockToleranceSeconds'), 'must be a number of seconds from 0 to 300');
  }
  if (o.requiredScopes !== undefined) checkStringList(o.requiredScopes, at('requiredScopes'), true);
  // Zero turns the key cache or the refetch cooldown off; a request needs some time.
  for (const key of ['jwksCacheMaxAgeMs', 'jwksCooldownMs'] as const) {
    if (o[key] !== undefined) checkInteger(o[key], at(key), { min: 0 });
  }
  if (o.timeoutMs !== undefined) checkPositiveInteger(o.timeoutMs, at('timeoutMs'));
  if (o.cache !== undefined && o.cache !== false) {
    const cache = checkObject(o.cache, at('cache'), ['maxEntries', 'maxAgeMs']);
    for (const key of ['maxEntries', 'maxAgeMs']) {
      if (cache[key] !== undefined) checkPositiveInteger(cache[key], optionPath(at('cache'), key));
    }
  }
  if (o.allowClients !== undefined) checkStringList(o.allowClients, at('allowClients'));
  return o as unknown as AccessTokenVerifierOptions;
}

/**
 * Verifies OIDC access tokens (RFC 9068 JWTs) against the provider's published keys: signature,
 * `alg` allow-list, `typ`, issuer, audience, expiry and not-before. The user id is the verified
 * `sub`, never anything from the request. Keys are fetched once and cached; an unknown `kid`
 * (key rotation) triggers a refetch, rate limited by `jwksCooldownMs`.
 *
 * @example
 * ```ts
 * const verifier = createAccessTokenVerifier({
 *   issuer: 'http://localhost:3001/oidc',
 *   audience: 'https://api.bookstore.local',
 * });
 * const { userId } = await verifier.verify(bearerToken);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9068 JWT profile for OAuth 2.0 access tokens
 */
export function createAccessTokenVerifier(
  input: AccessTokenVerifierOptions,
  path = 'accessTokens',
): AccessTokenVerifier {
  const options = validateOptions(input, path);
  const issuer = options.issuer;
  const audience = typeof options.audience === 'string' ? options.audience : [...options.audience];
  const algorithms = [...(options.algorithms ?? DEFAULT_ACCESS_TOKEN_ALGORITHMS)];
  const typ = options.typ === undefined ? 'at+jwt' : options.typ;
  const clockTolerance = options.clockToleranceSeconds ?? 10;
  const timeoutDuration = options.timeoutMs ?? 5_000;
  const allowedClients = new Set(options.allowClients ?? []);
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const cacheOptions = options.cache === false ? undefined : (options.cache ?? {});
  const verified =
    cacheOptions === undefined
      ? undefined
      : new VerifiedTokens(
          cacheOptions.maxEntries ?? 10_000,
          Math.min(cacheOptions.maxAgeMs ?? 60_000, options.jwksCacheMaxAgeMs ?? 600_000),
        );

  const discoverKeys = async (): Promise<JWTVerifyGetKey> => {
    let jwksUri = options.jwksUri;
    if (!jwksUri) {
      const discoveryUrl = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      let document: { issuer?: unknown; jwks_uri?: unknown };
      try {
        const response = await fetch(discoveryUrl, {
          signal: AbortSignal.timeout(timeoutDuration),
          headers: { accept: 'application/json' },
        });
        if (!response.ok) throw new Error(`discovery answered ${response.status}`);
        document = (await response.json()) as typeof document;
      } catch (cause) {
        throw new GuestmodeError(
          'provider_unavailable',
          "The provider's discovery document could not be fetched.",
          { cause },
        );
      }
      // OpenID Connect Discovery 1.0 §4.3: the document's issuer must be the one we trust.
      if (document.issuer !== issuer || typeof document.jwks_uri !== 'string') {
        throw new GuestmodeError(
          'provider_unavailable',
          "The provider's discovery document does not match the configured issuer.",
        );
      }
      jwksUri = document.jwks_uri;
    }
    return createRemoteJWKSet(new URL(jwksUri), {
      cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      timeoutDuration,
      [customFetch]: fetchKeys,
    });
  };

  return {
    async verify(token: string): Promise<VerifiedAccessToken> {
      if (typeof token !== 'string' || token.length === 0) throw invalid('No access token.');
      if (looksLikeGuestCredential(token)) {
        throw invalid('A guest credential is not an access token.');
      }
      if (token.length > 16_384) throw invalid('The access token is too long.');
      const key = verified?.keyOf(token);
      const known = key === undefined ? undefined : verified?.get(key);
      if (known !== undefined) return known;
      if (!keys) {
        keys = discoverKeys();
        // A failed discovery is retried by the next request rather than cached forever.
        keys.catch(() => {
          keys = undefined;
        });
      }
      try {
        const { payload } = await jwtVerify(token, await keys, {
          issuer,
          audience,
          algorithms,
          clockTolerance,
          ...(typ ? { typ } : {}),
        });
        if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
          throw invalid('The access token has no subject.');
        }
        if (payload.exp === undefined) throw invalid('The access token has no expiry.');
        if ('nonce' in payload || 'at_hash' in payload) {
          throw invalid('An ID token is not an access token.');
        }
        const client = clientOf(payload);
        if (client !== undefined && payload.sub === client && !allowedClients.has(client)) {
          throw invalid('A machine-to-machine token does not speak for a user.');
        }
        if (options.requiredScopes?.length) {
          const granted = grantedScopes(payload);
          const missing = options.requiredScopes.filter((s) => !granted.has(s));
          if (missing.length > 0) throw invalid('The access token lacks a required scope.');
        }
        const result: VerifiedAccessToken = Object.freeze({
          userId: payload.sub,
          claims: Object.freeze(payload),
        });
        // jose refuses the token from exp + tolerance on; the entry must not outlive that.
        if (key !== undefined) verified?.set(key, result, (payload.exp + clockTolerance) * 1000);
        return result;
      } catch (error) {
        throw describe(error);
      }
    },
  };
}

/**
 * The client a token was issued to: `client_id` (RFC 9068), or `azp` for providers that name
 * the authorized party that way. Only strings count.
 */
function clientOf(payload: JWTPayload): string | undefined {
  if (typeof payload.client_id === 'string' && payload.client_id !== '') return payload.client_id;
  if (typeof payload.azp === 'string' && payload.azp !== '') return payload.azp;
  return undefined;
}

/** The scopes a token grants: `scope` when present, else Entra's `scp` (string or list). */
function grantedScopes(payload: JWTPayload): Set<string> {
  const claim = payload.scope ?? payload.scp;
  if (typeof claim === 'string') return new Set(claim.split(' '));
  if (Array.isArray(claim)) return new Set(claim.filter((s) => typeof s === 'string'));
  return new Set();
}

/** A least-recently-used map of verified tokens (by SHA-256), each valid until its deadline. */
class VerifiedTokens {
  readonly #entries = new Map<string, { result: VerifiedAccessToken; until: number }>();

  constructor(
    readonly maxEntries: number,
    readonly maxAgeMs: number,
  ) {}

  /** The token's SHA-256: tokens are bearer credentials, so they are not kept as they are. */
  keyOf(token: string): string {
    return hashSecret(token).toString('base64');
  }

  get(key: string): VerifiedAccessToken | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (Date.now() >= entry.until) return undefined;
    this.#entries.set(key, entry);
    return entry.result;
  }

  set(key: string, result: VerifiedAccessToken, expiresAtMs: number): void {
    const until = Math.min(expiresAtMs, Date.now() + this.maxAgeMs);
    this.#entries.delete(key);
    this.#entries.set(key, { result, until });
    if (this.#entries.size > this.maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }
}
