import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GuestmodeError } from '@guestmode/core';
import { jwtVerify } from 'jose';
import type Provider from 'oidc-provider';
import { DEV_SWITCH_ENV, isDevSwitchOn, isLoopbackHost } from '../config.js';
import { avatarSvg, homePage, signInPage } from './dev-upstream-pages.js';
import { createUpstreamProvider } from './dev-upstream-provider.js';

/** A demo account of the development upstream. */
export interface DevUpstreamUser {
  id: string;
  name: string;
  email?: string;
  picture?: string;
  /** E.164, returned as the `phone_number` claim (scope `phone`). */
  phone?: string;
}

/** Options of {@link startDevUpstream}. */
export interface DevUpstreamOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 3002; 0 picks a free port (tests). */
  port?: number;
  /** Default: Ada Lovelace and Grace Hopper. */
  users?: DevUpstreamUser[];
  /**
   * Redirect URIs to register for the client. Any loopback `http://localhost|127.0.0.1|[::1]`
   * URI is accepted anyway (this server is development-only), so this is rarely needed.
   */
  redirectUris?: string[];
  /** Where the start-up warning goes; default `console.warn`. */
  log?: (message: string) => void;
  /**
   * Says, on purpose, that this is a development or demo setup: needed to bind anything but a
   * loopback address (also `GUESTMODE_DEV=1`), because `NODE_ENV` is often simply unset.
   */
  development?: boolean;
}

/** A running development upstream, see {@link startDevUpstream}. */
export interface DevUpstream {
  issuer: string;
  authorizationEndpoint: string;
  /** oidc-provider's token endpoint: answers JSON (`tokenEndpointResponseType: 'json'`). */
  tokenEndpoint: string;
  /**
   * The same token endpoint behind a shim that answers `application/x-www-form-urlencoded`
   * (`tokenEndpointResponseType: 'query-string'`), like GitHub's classic OAuth apps.
   */
  formTokenEndpoint: string;
  userInfoEndpoint: string;
  clientId: string;
  clientSecret: string;
  users: DevUpstreamUser[];
  /**
   * A ready `oauth2` connector config for this upstream: `profileMap` maps `sub`, `name`,
   * `picture`, `email`, `phone_number`; `tokenEndpoint` follows `tokenEndpointResponseType`.
   */
  connectorConfig(overrides?: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

const defaultUsers: DevUpstreamUser[] = [
  { id: 'ada', name: 'Ada Lovelace', email: 'ada@example.com', phone: '+819012345678' },
  { id: 'grace', name: 'Grace Hopper', email: 'grace@example.com', phone: '+819087654321' },
];

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const BODY_LIMIT = 64 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) {
      throw new GuestmodeError('payload_too_large', 'request body too large');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Starts a DEVELOPMENT-ONLY OAuth 2.0 / OpenID Connect provider (a second `oidc-provider`
 * instance) so the OAuth 2.0 connector's flow runs offline: demos, CI, tests.
 *
 * - A sign-in page with one button per demo user (`Continue as Ada Lovelace`) and `Cancel`
 *   (which answers the client with `error=access_denied`). No passwords, consent is implied.
 * - One confidential client whose id and secret are returned. Its token endpoint accepts
 *   `client_secret_post`, `client_secret_basic` and `client_secret_jwt` (HS256/384/512):
 *   oidc-provider binds each client to a single method, so a small shim in front of `/token`
 *   verifies a `client_secret_jwt` assertion itself (signature, iss/sub, aud, exp, jti replay)
 *   and hands oidc-provider the equivalent `client_secret_post` request. oidc-provider logs a
 *   one-time notice about the pre-parsed body this requires.
 * - `/token/form` answers form-encoded instead of JSON. It drops `expires_in` like GitHub does:
 *   `@logto/connector-oauth` 1.7.8 parses form responses without number coercion, so a form
 *   `expires_in` fails its response guard (`invalid_response`).
 * - Refresh tokens are issued on every code exchange (the OAuth connector cannot send
 *   `prompt=consent`, which oidc-provider otherwise needs to honour `offline_access`).
 * - Any loopback http redirect URI is accepted.
 *
 * @throws GuestmodeError `production_refused` when `NODE_ENV=production`, or when `host` is not a
 *   loopback address and neither `development: true` nor `GUESTMODE_DEV=1` says this is a demo.
 *
 * @example
 * ```ts
 * const upstream = await startDevUpstream({ port: 3002 });
 * const record = { id: 'dev', factoryId: 'oauth2', target: 'dev-upstream', name: { en: 'Dev upstream' },
 *   config: upstream.connectorConfig(), syncProfile: 'on-sign-up', storeTokens: false, enabled: true };
 * ```
 */
export async function startDevUpstream(options: DevUpstreamOptions = {}): Promise<DevUpstream> {
  if (process.env.NODE_ENV === 'production') {
    throw new GuestmodeError(
      'production_refused',
      'The development upstream is a fake identity provider and refuses to start with NODE_ENV=production',
    );
  }
  const requestedHost = options.host ?? '127.0.0.1';
  const development = options.development === true || isDevSwitchOn(process.env);
  if (!development && !isLoopbackHost(requestedHost)) {
    throw new GuestmodeError(
      'production_refused',
      `The development upstream is a fake identity provider and binds loopback only (not ${requestedHost}); pass development: true or set ${DEV_SWITCH_ENV}=1 for a demo on another address`,
    );
  }
  const users = (options.users ?? defaultUsers).map((user) => ({ ...user }));
  const byId = new Map(users.map((user) => [user.id, user]));
  if (byId.size !== users.length || users.some((user) => !user.id || !user.name)) {
    throw new TypeError('options.users must have unique non-empty ids and names');
  }
  const host = requestedHost;
  const clientId = 'guestmode-dev-client';
  // base64url is URL-safe, so the secret needs no form-encoding inside HTTP Basic credentials.
  const clientSecret = randomBytes(48).toString('base64url');
  const secretKey = new TextEncoder().encode(clientSecret);
  const seenJti = new Map<string, number>();

  let provider: Provider | undefined;
  let callback: ((req: IncomingMessage, res: ServerResponse) => unknown) | undefined;
  let issuer = '';

  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, {
      'content-type': type,
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  const interaction = async (
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
    action?: string,
  ) => {
    const oidc = provider!;
    const details = await oidc.interactionDetails(req, res);
    if (details.uid !== uid) throw new GuestmodeError('invalid_state', 'interaction mismatch');
    if (req.method === 'GET' && action === undefined) {
      const html = signInPage(
        uid,
        String(details.params.client_id),
        String(details.params.scope ?? ''),
        users,
      );
      return send(res, 200, 'text/html; charset=utf-8', html);
    }
    if (req.method !== 'POST') return send(res, 405, 'text/plain', 'Method Not Allowed');
    const form = new URLSearchParams(await readBody(req));
    if (action === 'abort') {
      return oidc.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user cancelled the sign-in' },
        { mergeWithLastSubmission: false },
      );
    }
    const accountId = form.get('user') ?? '';
    if (!byId.has(accountId)) return send(res, 400, 'text/plain', 'Unknown demo user');
    return oidc.interactionFinished(
      req,
      res,
      { login: { accountId } },
      { mergeWithLastSubmission: false },
    );
  };

  const oauthError = (
    res: ServerResponse,
    asForm: boolean,
    status: number,
    error: string,
    description: string,
  ) => {
    const body = { error, error_description: description };
    return asForm
      ? send(res, status, 'application/x-www-form-urlencoded', new URLSearchParams(body).toString())
      : send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
  };

  const token = async (req: IncomingMessage, res: ServerResponse, asForm: boolean) => {
    const params = new URLSearchParams(await readBody(req));
    const assertion = params.get('client_assertion');
    if (assertion !== null) {
      if (params.get('client_assertion_type') !== JWT_BEARER) {
        return oauthError(
          res,
          asForm,
          400,
          'invalid_request',
          `client_assertion_type must be ${JWT_BEARER}`,
        );
      }
      try {
        const { payload } = await jwtVerify(assertion, secretKey, {
          algorithms: ['HS256', 'HS384', 'HS512'],
          issuer: clientId,
          subject: clientId,
          audience: [issuer, `${issuer}/token`, `${issuer}/token/form`],
          requiredClaims: ['exp', 'jti'],
          maxTokenAge: '10 minutes',
        });
        const now = Math.floor(Date.now() / 1000);
        for (const [jti, exp] of seenJti) if (exp < now) seenJti.delete(jti);
        if (seenJti.has(payload.jti!)) throw new Error('jti replayed');
        seenJti.set(payload.jti!, payload.exp!);
      } catch {
        return oauthError(
          res,
          asForm,
          401,
          'invalid_client',
          'client_secret_jwt assertion is invalid',
        );
      }
      const claimed = params.get('client_id');
      if (claimed !== null && claimed !== clientId) {
        return oauthError(res, asForm, 401, 'invalid_client', 'client_id mismatch');
      }
      params.delete('client_assertion');
      params.delete('client_assertion_type');
      params.set('client_id', clientId);
      params.set('client_secret', clientSecret);
    }
    // The stream is consumed: oidc-provider falls back to a pre-parsed `req.body`.
    (req as IncomingMessage & { body?: string }).body = params.toString();
    if (asForm) {
      req.url = `/token${new URL(req.url ?? '/', issuer).search}`;
      const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
      res.end = ((chunk?: unknown, ...rest: unknown[]) => {
        const type = String(res.getHeader('content-type') ?? '');
        if (
          !res.headersSent &&
          type.includes('json') &&
          (typeof chunk === 'string' || Buffer.isBuffer(chunk))
        ) {
          const json = JSON.parse(chunk.toString()) as Record<string, unknown>;
          const form = new URLSearchParams();
          for (const [key, value] of Object.entries(json)) {
            if (key !== 'expires_in' && value !== undefined && value !== null)
              form.set(key, String(value));
          }
          const body = form.toString();
          res.setHeader('content-type', 'application/x-www-form-urlencoded');
          res.setHeader('content-length', Buffer.byteLength(body));
          return end(body);
        }
        return end(chunk, ...rest);
      }) as typeof res.end;
    }
    return callback!(req, res);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer || 'http://localhost');
    const route = async () => {
      const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(url.pathname);
      if (match) return interaction(req, res, match[1]!, match[2]);
      const avatar = /^\/avatars\/([\w-]+)\.svg$/.exec(url.pathname);
      if (avatar && req.method === 'GET') {
        const user = byId.get(avatar[1]!);
        return user
          ? send(res, 200, 'image/svg+xml', avatarSvg(user))
          : send(res, 404, 'text/plain', 'Not Found');
      }
      if (req.method === 'POST' && (url.pathname === '/token' || url.pathname === '/token/form')) {
        return token(req, res, url.pathname === '/token/form');
      }
      if (url.pathname === '/' && req.method === 'GET') {
        return send(res, 200, 'text/html; charset=utf-8', homePage());
      }
      return callback!(req, res);
    };
    route().catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      const status = error instanceof GuestmodeError ? error.status : 400;
      const name = error instanceof Error ? error.name : 'Error';
      send(res, status, 'text/plain; charset=utf-8', `Development upstream: ${name}`);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3002, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  for (const user of users) user.picture ??= `${issuer}/avatars/${encodeURIComponent(user.id)}.svg`;

  try {
    provider = await createUpstreamProvider(issuer, {
      clientId,
      clientSecret,
      redirectUris: options.redirectUris ?? ['http://localhost:3001/callback/dev-upstream'],
      users: byId,
    });
    callback = provider.callback();
  } catch (error) {
    server.close();
    throw error;
  }

  (options.log ?? console.warn)(
    `WARNING: DEVELOPMENT-ONLY OAuth 2.0 upstream listening on ${issuer}. It signs anyone in as a demo user; never expose it or use it in production.`,
  );

  const tokenEndpoint = `${issuer}/token`;
  const formTokenEndpoint = `${issuer}/token/form`;
  return {
    issuer,
    authorizationEndpoint: `${issuer}/auth`,
    tokenEndpoint,
    formTokenEndpoint,
    userInfoEndpoint: `${issuer}/me`,
    clientId,
    clientSecret,
    users: users.map((user) => ({ ...user })),
    connectorConfig(overrides = {}) {
      const responseType = overrides.tokenEndpointResponseType ?? 'json';
      return {
        authorizationEndpoint: `${issuer}/auth`,
        tokenEndpoint: responseType === 'query-string' ? formTokenEndpoint : tokenEndpoint,
        userInfoEndpoint: `${issuer}/me`,
        clientId,
        clientSecret,
        tokenEndpointAuthMethod: 'client_secret_post',
        tokenEndpointResponseType: responseType,
        scope: 'openid profile email phone offline_access',
        profileMap: {
          id: 'sub',
          name: 'name',
          avatar: 'picture',
          email: 'email',
          phone: 'phone_number',
        },
        ...overrides,
      };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
