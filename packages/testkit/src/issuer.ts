import { createHmac, webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { base64url, exportJWK, exportSPKI, generateKeyPair, type JWK } from 'jose';
import { closeServer, listen } from './http.js';
import { randomId } from './util.js';

/** Signing algorithms the test issuer can use. Logto signs with ES384 by default. */
export type TestIssuerAlg = 'ES384' | 'ES256' | 'RS256';

/** Options for {@link startTestIssuer}. */
export interface TestIssuerOptions {
  /** Signing algorithm (default `ES384`, Logto's default). */
  alg?: TestIssuerAlg;
  /** Default `aud` of access tokens (default `https://api.test.local`). */
  audience?: string;
  /** Path of the issuer below the server origin (default `/oidc`, as in Logto). */
  path?: string;
}

/**
 * Claims for {@link TestIssuer.accessToken} and friends. Unknown keys are added to the payload
 * as they are and override the defaults; a key given as `undefined` removes that claim (e.g.
 * `{ exp: undefined }` for a token that never expires, `{ sub: undefined }` for one without a
 * subject).
 */
export interface TokenClaims {
  sub?: string;
  aud?: string | string[];
  scope?: string;
  client_id?: string;
  /** Lifetime in seconds from now; negative for an already expired token (default 3600). */
  expiresIn?: number;
  /** `nbf` in seconds from now (no `nbf` unless given). */
  notBefore?: number;
  iss?: string;
  [claim: string]: unknown;
}

/** Header overrides; a wrong `alg` keeps the real signature, so it must fail verification. */
export interface TokenHeader {
  typ?: string;
  kid?: string;
  alg?: string;
  [parameter: string]: unknown;
}

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

interface SigningKey {
  kid: string;
  privateKey: KeyPair['privateKey'];
  publicKey: KeyPair['publicKey'];
  publicJwk: JWK;
}

/** The client id used as `aud` of ID tokens and default `client_id` of access tokens. */
export const TEST_CLIENT_ID = 'test-client';

const SUBTLE_PARAMS: Record<TestIssuerAlg, webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams> =
  {
    ES256: { name: 'ECDSA', hash: 'SHA-256' },
    ES384: { name: 'ECDSA', hash: 'SHA-384' },
    RS256: { name: 'RSASSA-PKCS1-v1_5' },
  };

async function newKey(alg: TestIssuerAlg): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomId(12);
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, privateKey, publicKey, publicJwk };
}

const encodeJson = (value: unknown) => base64url.encode(JSON.stringify(value));

function decodePart(token: string, index: number): Record<string, unknown> {
  const part = token.split('.')[index];
  if (part === undefined) throw new TypeError('not a compact JWS');
  return JSON.parse(new TextDecoder().decode(base64url.decode(part))) as Record<string, unknown>;
}

/**
 * Decodes a compact JWT without verifying it, for assertions on what a test issued (or what a
 * server under test issued). Never use this in production code.
 */
export function decodeJwt(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  return { header: decodePart(token, 0), payload: decodePart(token, 1) };
}

/**
 * A local OpenID issuer shaped like Logto's (`<origin>/oidc`, discovery document, JWKS),
 * signing real tokens with real keys. It exists so that access-token verification is tested
 * against the actual cryptography and HTTP fetching (including JWKS caching and key rotation),
 * and against the attacks a verifier must refuse, with no network and no Logto account.
 * Create one with {@link startTestIssuer}.
 */
export class TestIssuer {
  /** `<origin><path>`, the `iss` of every token; what a verifier is configured with. */
  readonly issuer: string;
  /** `<issuer>/jwks`, as advertised by the discovery document. */
  readonly jwksUri: string;
  /** Default `aud` of access tokens (the API resource indicator). */
  readonly audience: string;
  readonly alg: TestIssuerAlg;
  /** Number of JWKS fetches served, so tests can prove a verifier caches keys. */
  requests = 0;
  /** Number of discovery-document fetches served. */
  discoveryRequests = 0;

  readonly #server: Server;
  #keys: SigningKey[];

  /** @internal use {@link startTestIssuer}. */
  constructor(
    server: Server,
    issuer: string,
    audience: string,
    alg: TestIssuerAlg,
    key: SigningKey,
  ) {
    this.#server = server;
    this.issuer = issuer;
    this.jwksUri = `${issuer}/jwks`;
    this.audience = audience;
    this.alg = alg;
    this.#keys = [key];
  }

  /** The kid of the key that signs new tokens. */
  get kid(): string {
    return this.#current.kid;
  }

  /** The JWKS currently served (public keys, newest first). */
  get jwks(): { keys: JWK[] } {
    return { keys: this.#keys.map((key) => key.publicJwk) };
  }

  /** The discovery document served at `<issuer>/.well-known/openid-configuration`. */
  get discovery(): Record<string, unknown> {
    const issuer = this.issuer;
    return {
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      userinfo_endpoint: `${issuer}/me`,
      end_session_endpoint: `${issuer}/session/end`,
      revocation_endpoint: `${issuer}/token/revocation`,
      introspection_endpoint: `${issuer}/token/introspection`,
      jwks_uri: this.jwksUri,
      response_types_supported: ['code', 'id_token', 'code id_token'],
      response_modes_supported: ['form_post', 'fragment', 'query'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [this.alg],
      token_endpoint_auth_methods_supported: [
        'none',
        'client_secret_basic',
        'client_secret_jwt',
        'client_secret_post',
        'private_key_jwt',
      ],
      code_challenge_methods_supported: ['S256'],
      scopes_supported: ['openid', 'offline_access', 'profile', 'email', 'phone'],
      claims_supported: ['sub', 'name', 'picture', 'username', 'email', 'email_verified'],
      claims_parameter_supported: false,
      request_parameter_supported: false,
      request_uri_parameter_supported: false,
    };
  }

  get #current(): SigningKey {
    return this.#keys[0]!;
  }

  /** @internal request handler of the issuer's HTTP server. */
  handle(method: string | undefined, pathname: string): { status: number; body: unknown } {
    if (method !== 'GET' && method !== 'HEAD') return { status: 405, body: { error: 'method' } };
    const path = new URL(this.issuer).pathname.replace(/\/$/, '');
    if (pathname === `${path}/.well-known/openid-configuration`) {
      this.discoveryRequests++;
      return { status: 200, body: this.discovery };
    }
    if (pathname === `${path}/jwks`) {
      this.requests++;
      return { status: 200, body: this.jwks };
    }
    return { status: 404, body: { error: 'not_found' } };
  }

  #accessPayload(claims: TokenClaims): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    const { expiresIn, notBefore, ...rest } = claims;
    const payload: Record<string, unknown> = {
      jti: randomId(16),
      sub: `user_${randomId(6)}`,
      iat: now,
      exp: now + (expiresIn ?? 3600),
      ...(notBefore === undefined ? {} : { nbf: now + notBefore }),
      scope: '',
      client_id: TEST_CLIENT_ID,
      iss: this.issuer,
      aud: this.audience,
    };
    return applyOverrides(payload, rest);
  }

  async #sign(
    header: Record<string, unknown>,
    payload: Record<string, unknown>,
    key: SigningKey = this.#current,
  ): Promise<string> {
    const input = `${encodeJson(header)}.${encodeJson(payload)}`;
    // WebCrypto's ECDSA output is already the raw r||s form JWS wants.
    const signature = await webcrypto.subtle.sign(
      SUBTLE_PARAMS[this.alg],
      key.privateKey as webcrypto.CryptoKey,
      new TextEncoder().encode(input),
    );
    return `${input}.${base64url.encode(new Uint8Array(signature))}`;
  }

  #header(typ: string, header: TokenHeader, kid = this.#current.kid): Record<string, unknown> {
    return applyOverrides({ alg: this.alg, typ, kid }, header);
  }

  /**
   * A valid access token as Logto issues them for an API resource: header
   * `{ alg, typ: 'at+jwt', kid }`, claims `jti, sub, iat, exp, scope, client_id, iss, aud`.
   * Override claims or header parameters to build the invalid variants (expired, wrong
   * audience, wrong issuer, unknown kid...).
   *
   * @example
   * const expired = await issuer.accessToken({ expiresIn: -60 });
   */
  accessToken(claims: TokenClaims = {}, header: TokenHeader = {}): Promise<string> {
    return this.#sign(this.#header('at+jwt', header), this.#accessPayload(claims));
  }

  /**
   * A valid OIDC ID token (`typ: 'JWT'`, `aud` = the client id, with `nonce`), signed by the
   * same key. An access-token verifier must reject it: it proves who signed in to a client, not
   * that the bearer may call the API.
   */
  idToken(claims: TokenClaims = {}, header: TokenHeader = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const { expiresIn, notBefore, ...rest } = claims;
    const payload = applyOverrides(
      {
        sub: `user_${randomId(6)}`,
        nonce: randomId(8),
        iat: now,
        exp: now + (expiresIn ?? 3600),
        ...(notBefore === undefined ? {} : { nbf: now + notBefore }),
        auth_time: now,
        iss: this.issuer,
        aud: TEST_CLIENT_ID,
      },
      rest,
    );
    return this.#sign(this.#header('JWT', header), payload);
  }

  /**
   * Adds a new signing key with a new kid. New tokens use it; the JWKS lists it first and keeps
   * the old keys (as Logto does during rotation), so tokens signed before stay valid until
   * {@link dropOldKeys}.
   */
  async rotateKeys(): Promise<void> {
    this.#keys.unshift(await newKey(this.alg));
  }

  /** Removes every key but the newest from the JWKS, ending a rotation. */
  dropOldKeys(): void {
    this.#keys = [this.#current];
  }

  /** Attack: `alg: none` with an empty signature. */
  unsignedToken(claims: TokenClaims = {}): string {
    const header = { alg: 'none', typ: 'at+jwt', kid: this.kid };
    return `${encodeJson(header)}.${encodeJson(this.#accessPayload(claims))}.`;
  }

  /**
   * Attack: algorithm confusion. HS256 with the issuer's public key as the HMAC secret, which a
   * verifier that trusts the header's `alg` would accept. `form` chooses the secret's bytes:
   * the SPKI PEM (the classic attack) or the JWK as JSON.
   */
  async hs256WithPublicKey(claims: TokenClaims = {}, form: 'pem' | 'jwk' = 'pem'): Promise<string> {
    const key = this.#current;
    const secret = form === 'pem' ? await exportSPKI(key.publicKey) : JSON.stringify(key.publicJwk);
    const input = `${encodeJson({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })}.${encodeJson(
      this.#accessPayload(claims),
    )}`;
    const signature = createHmac('sha256', secret).update(input).digest();
    return `${input}.${base64url.encode(signature)}`;
  }

  /** Attack: a well-formed token signed by a key that is not in the JWKS, under a kid that is. */
  async signedByStranger(claims: TokenClaims = {}): Promise<string> {
    const stranger = await newKey(this.alg);
    return this.#sign(this.#header('at+jwt', {}), this.#accessPayload(claims), stranger);
  }

  /** Attack: changes claims (e.g. `sub`) but keeps the original header and signature. */
  tamperPayload(token: string, patch: Record<string, unknown>): string {
    const [header, , signature] = token.split('.');
    const payload = applyOverrides(decodePart(token, 1), patch);
    return `${header}.${encodeJson(payload)}.${signature}`;
  }

  /** Attack: flips one bit in the middle of the signature. */
  tamperSignature(token: string): string {
    const [header, payload, signature = ''] = token.split('.');
    const bytes = base64url.decode(signature);
    if (bytes.length === 0) throw new TypeError('token has no signature to tamper with');
    const index = Math.floor(bytes.length / 2);
    bytes[index] = bytes[index]! ^ 0x01;
    return `${header}.${payload}.${base64url.encode(bytes)}`;
  }

  /** Stops the HTTP server (verifiers then fail to fetch the JWKS, which tests may want). */
  close(): Promise<void> {
    return closeServer(this.#server);
  }
}

function applyOverrides(
  base: Record<string, unknown>,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  const result = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete result[key];
    else result[key] = value;
  }
  return result;
}

/**
 * Starts a {@link TestIssuer} on 127.0.0.1 with a fresh key pair. Close it in `after()`.
 *
 * @example
 * const issuer = await startTestIssuer();
 * after(() => issuer.close());
 * const verifier = createVerifier({ issuer: issuer.issuer, audience: issuer.audience });
 * await verifier.verify(await issuer.accessToken({ sub: 'user_1' }));
 */
export async function startTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const alg = options.alg ?? 'ES384';
  if (!(alg in SUBTLE_PARAMS)) throw new TypeError(`startTestIssuer: unsupported alg ${alg}`);
  const path = (options.path ?? '/oidc').replace(/\/$/, '');
  if (path !== '' && !path.startsWith('/')) {
    throw new TypeError('startTestIssuer: options.path must start with "/"');
  }
  const key = await newKey(alg);
  let issuer: TestIssuer | undefined;
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    const { status, body } = issuer
      ? issuer.handle(req.method, pathname)
      : { status: 503, body: { error: 'starting' } };
    const json = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
    });
    res.end(req.method === 'HEAD' ? undefined : json);
  });
  const base = await listen(server);
  issuer = new TestIssuer(
    server,
    `${base}${path}`,
    options.audience ?? 'https://api.test.local',
    alg,
    key,
  );
  return issuer;
}
