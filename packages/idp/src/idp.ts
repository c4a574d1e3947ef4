import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkInteger, GuestmodeError, optionError, toErrorResponse } from '@guestmode/core';
import type Provider from 'oidc-provider';
import {
  type IssueAccessTokenInput,
  type IssuedAccessToken,
  issueAccessToken,
} from './access-token.js';
import { accountApi } from './account-api.js';
import { Accounts } from './accounts.js';
import { hashApplicationSecret } from './client-secret.js';
import {
  DEV_SWITCH_ENV,
  type IdpOptions,
  isLoopbackHost,
  type ResolvedOptions,
  resolveOptions,
} from './config.js';
import { CsrfTokens, type RouteContext } from './context.js';
import {
  declaredTooLarge,
  MAX_BODY,
  Router,
  sendHtml,
  sendJson,
  sendJsonError,
  tooLarge,
} from './http.js';
import { interactionRoutes } from './interaction-routes.js';
import { loadOrCreateKeys } from './keys.js';
import { managementApi } from './management-api.js';
import { checkName, checkUrlList } from './options.js';
import { errorPage, messagePage } from './pages.js';
import { createOidcProvider, MANAGEMENT_RESOURCE, MANAGEMENT_SCOPE } from './provider.js';
import {
  type ConnectorRecord,
  parseConnectorRecord,
  SocialHost,
  TokenVault,
} from './social/index.js';
import { socialRoutes } from './social-routes.js';
import { openSqliteStore } from './store/sqlite.js';
import type { ApplicationType, Store } from './store/types.js';

export type { IdpOptions } from './config.js';

/** What {@link Idp.createApplication} and {@link Idp.createM2MApplication} return. */
export interface ApplicationCredentials {
  appId: string;
  /** URL-safe (base64url), so HTTP Basic works even though the SDK does not form-encode it. */
  appSecret: string;
}

export interface CreateApplicationInput {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  /** Only `traditional` (server-side web app, the seeds' Next.js and Express apps) for now. */
  type?: 'traditional';
}

export interface CreateResourceInput {
  /** The API identifier, an absolute URI such as `https://api.bookstore.local`. */
  indicator: string;
  name?: string;
  /** Permissions the API defines; granted automatically to first-party apps. */
  scopes?: string[];
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTtl?: number;
}

export interface CreateUserInput {
  username: string;
  password: string;
  name?: string;
  email?: string;
}

/** The development-only banner, printed on every start. */
export const DEV_WARNING =
  '⚠️  @guestmode/idp is a local OpenID provider for development, demos and tests. It is NOT ' +
  'for production (no rate limiting, no MFA, no admin console). Use Logto Cloud or self-hosted Logto.';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const randomId = (length: number) =>
  Array.from(randomBytes(length), (b) => ALPHABET[b % ALPHABET.length]).join('');

/**
 * A local, Logto-compatible OpenID provider. Create it with {@link createIdp}; admin functions
 * work before and after {@link Idp.listen}.
 */
export class Idp {
  readonly #options: ResolvedOptions;
  readonly #store: Store;
  readonly #accounts: Accounts;
  readonly #vault: TokenVault | undefined;
  #server: Server | undefined;
  #provider: Provider | undefined;
  #social: SocialHost | undefined;
  #url: string;
  #cleanup: NodeJS.Timeout | undefined;

  /** @internal Use {@link createIdp}. */
  constructor(options: IdpOptions = {}) {
    this.#options = resolveOptions(options);
    if (this.#options.env.NODE_ENV === 'production' && !this.#options.allowProduction) {
      throw new GuestmodeError(
        'production_refused',
        'NODE_ENV is "production": @guestmode/idp is a development tool. Point your app at Logto, ' +
          'or pass allowProduction: true (CLI: --allow-production) for a staging rehearsal.',
      );
    }
    this.#vault = TokenVault.fromEnv(this.#options.env);
    this.#store = openSqliteStore(this.#options.database);
    this.#accounts = new Accounts(this.#store);
    this.#url = this.#options.endpoint.origin;
  }

  /** The public origin (e.g. `http://localhost:3001`); after `listen()`, with the real port. */
  get url(): string {
    return this.#url;
  }

  /** `<url>/oidc`, what the SDKs call the issuer. */
  get issuer(): string {
    return `${this.#url}/oidc`;
  }

  /** The storage, for tests and tools that inspect the database. */
  get store(): Store {
    return this.#store;
  }

  /** Starts the HTTP server. Resolves once bound; `url` then has the real port. */
  async listen(): Promise<{ url: string }> {
    if (this.#server) throw new TypeError('listen() was already called');
    const options = this.#options;
    const { host, endpoint, development } = options;
    if (!development && !(isLoopbackHost(host) && isLoopbackHost(endpoint.hostname))) {
      throw new GuestmodeError(
        'production_refused',
        `@guestmode/idp is a development tool and serves loopback only (host ${host}, endpoint ` +
          `${endpoint.hostname}). For a demo on another address, say so: development: true ` +
          `(CLI: --dev, or ${DEV_SWITCH_ENV}=1).`,
      );
    }
    options.warn(DEV_WARNING);
    if (!this.#vault) {
      options.warn(
        'GUESTMODE_IDP_VAULT_KEY is not set: connectors with storeTokens keep no social tokens.',
      );
    }

    const server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => this.#fail(req, res, error));
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    if (options.followPort) {
      const { port } = server.address() as AddressInfo;
      const endpoint = new URL(options.endpoint);
      endpoint.port = String(port);
      this.#url = endpoint.origin;
    }

    try {
      const keys = await loadOrCreateKeys(this.#store);
      this.#provider = createOidcProvider({
        issuer: this.issuer,
        store: this.#store,
        keys,
        secure: options.endpoint.protocol === 'https:',
      });
      await this.#reloadConnectors();
      const ctx: RouteContext = {
        store: this.#store,
        accounts: this.#accounts,
        provider: this.#provider,
        endpoint: this.#url,
        social: () => this.#social,
        csrf: new CsrfTokens(createHmac('sha256', keys.cookie[0]!).update('csrf').digest()),
      };
      this.#router = new Router();
      interactionRoutes(this.#router, ctx);
      socialRoutes(this.#router, ctx);
      accountApi(this.#router, ctx);
      managementApi(this.#router, ctx, keys.signing);
    } catch (error) {
      await this.close();
      throw error;
    }

    if (options.cleanupInterval > 0) {
      this.#cleanup = setInterval(() => {
        this.#store.deleteExpired(Date.now()).catch(() => {});
      }, options.cleanupInterval);
      this.#cleanup.unref();
    }
    await this.#store.deleteExpired(Date.now());
    return { url: this.#url };
  }

  #router: Router | undefined;

  /** Stops the server and closes the database. */
  async close(): Promise<void> {
    if (this.#cleanup) clearInterval(this.#cleanup);
    const server = this.#server;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.#store.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.#url);
    const provider = this.#provider;
    if (!provider || !this.#router) {
      // Bound before the keys and routes exist: tell early clients when to come back.
      throw new GuestmodeError('provider_unavailable', 'the provider is starting', {
        headers: { 'retry-after': '1' },
      });
    }
    const oidc = url.pathname === '/oidc' || url.pathname.startsWith('/oidc/');
    if (declaredTooLarge(req)) {
      // Refused before reading a byte, on every route (oidc-provider's parser would say 400).
      if (!oidc) throw tooLarge();
      sendJson(res, 413, {
        error: 'invalid_request',
        error_description: `the request body must be at most ${MAX_BODY} bytes`,
      });
      return;
    }
    if (oidc) {
      // oidc-provider derives its mount path from originalUrl minus url, like under Express.
      const original = req.url ?? '/';
      Object.assign(req, { originalUrl: original, url: original.slice('/oidc'.length) || '/' });
      await provider.callback()(req, res);
      return;
    }
    const match = this.#router.match(req.method ?? 'GET', url.pathname);
    if (match === 'method_not_allowed') {
      throw new GuestmodeError('method_not_allowed', `${req.method} is not allowed here`);
    }
    if (!match) {
      if (url.pathname === '/' && req.method === 'GET') {
        sendHtml(
          res,
          200,
          messagePage('en', 'Guestmode local IdP', `OpenID issuer: ${this.issuer}. ${DEV_WARNING}`),
        );
        return;
      }
      throw new GuestmodeError('not_found', 'no such route');
    }
    await match.handler({ req, res, url, params: match.params });
  }

  #fail(req: IncomingMessage, res: ServerResponse, error: unknown) {
    // Unknown errors may carry anything (SQL, upstream bodies): toErrorResponse keeps their
    // detail out of the answer, and it goes to the log instead.
    const { status, headers, body } = toErrorResponse(error);
    if (status === 500) {
      this.#options.warn(`@guestmode/idp: ${(error as Error)?.stack ?? String(error)}`);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    const path = (req.url ?? '/').split('?')[0]!;
    if (path.startsWith('/api/')) {
      sendJsonError(res, status, body.error.code, body.error.message);
    } else {
      sendHtml(res, status, errorPage(body.error.code, body.error.message));
    }
  }

  async #reloadConnectors() {
    if (!this.#provider) return;
    const rows = await this.#store.listConnectors();
    this.#social =
      rows.length === 0
        ? undefined
        : await SocialHost.create(
            rows.map((row) => row.record as ConnectorRecord),
            { endpoint: this.#url, ...(this.#vault ? { vault: this.#vault } : {}) },
          );
  }

  async #insertApplication(type: ApplicationType, input: CreateApplicationInput) {
    const credentials: ApplicationCredentials = {
      appId: randomId(21),
      appSecret: randomBytes(32).toString('base64url'),
    };
    await this.#store.insertApplication({
      id: credentials.appId,
      name: checkName(input.name, 'input.name'),
      // Only the hash is kept; the secret itself is shown once, to the caller.
      secret: hashApplicationSecret(credentials.appSecret),
      type,
      redirectUris:
        type === 'm2m'
          ? []
          : checkUrlList(input.redirectUris, 'input.redirectUris', { required: true }),
      postLogoutRedirectUris:
        type === 'm2m'
          ? []
          : checkUrlList(input.postLogoutRedirectUris, 'input.postLogoutRedirectUris', {
              required: false,
            }),
      createdAt: Date.now(),
    });
    return credentials;
  }

  /**
   * Registers a traditional web application (Logto: "Traditional web"), the kind the
   * `@logto/express` and `@logto/next` SDKs use.
   *
   * @example
   * ```ts
   * const { appId, appSecret } = await idp.createApplication({
   *   name: 'Bookstore',
   *   redirectUris: ['http://localhost:3000/api/logto/sign-in-callback'],
   *   postLogoutRedirectUris: ['http://localhost:3000'],
   * });
   * ```
   */
  async createApplication(input: CreateApplicationInput): Promise<ApplicationCredentials> {
    if (input.type !== undefined && input.type !== 'traditional') {
      throw optionError('input.type', 'only "traditional" is supported');
    }
    return this.#insertApplication('traditional', input);
  }

  /**
   * Registers a machine-to-machine application for the management API. Get a token with the
   * client credentials grant: `resource=https://admin.guestmode.local/api&scope=all`.
   */
  async createM2MApplication(input: { name: string }): Promise<ApplicationCredentials> {
    return this.#insertApplication('m2m', { name: input.name, redirectUris: [] });
  }

  /** Registers an API resource; access tokens for it are ES384 `at+jwt` with `aud` = indicator. */
  async createResource(input: CreateResourceInput): Promise<{ indicator: string }> {
    const indicator = checkName(input.indicator, 'input.indicator', 256);
    if (!URL.canParse(indicator)) throw optionError('input.indicator', 'must be an absolute URI');
    if (new URL(indicator).hash) throw optionError('input.indicator', 'must not have a fragment');
    if (indicator === MANAGEMENT_RESOURCE) {
      throw optionError('input.indicator', 'is reserved for the management API');
    }
    const scopes = input.scopes ?? [];
    if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string' && /^\S+$/.test(s))) {
      throw optionError('input.scopes', 'must be an array of scope names without spaces');
    }
    const ttl = checkInteger(input.accessTokenTtl ?? 3600, 'input.accessTokenTtl', {
      min: 60,
      max: 86_400,
    });
    await this.#store.insertResource({
      indicator,
      name: input.name === undefined ? indicator : checkName(input.name, 'input.name'),
      scopes,
      accessTokenTtl: ttl,
      createdAt: Date.now(),
    });
    return { indicator };
  }

  /**
   * Signs an access token for a user and a registered API resource, as a sign-in through this
   * provider would get one (development and scripted walkthroughs: no browser needed).
   *
   * @example
   * ```ts
   * const { accessToken } = await idp.issueAccessToken({
   *   user: 'alice',
   *   resource: 'https://api.bookstore.local',
   * });
   * ```
   */
  issueAccessToken(input: IssueAccessTokenInput): Promise<IssuedAccessToken> {
    return issueAccessToken(this.#store, this.issuer, input);
  }

  /** Creates a username/password user. */
  async createUser(input: CreateUserInput): Promise<{ id: string }> {
    const user = await this.#accounts.createUser(input);
    return { id: user.id };
  }

  /**
   * Adds a social connector (validated by the connector's own `configGuard`). Takes effect at
   * once when listening.
   */
  async addConnector(record: unknown): Promise<{ id: string; target: string }> {
    const parsed = await parseConnectorRecord(record);
    await this.#store.insertConnector({
      id: parsed.id,
      target: parsed.target,
      record: parsed,
      createdAt: Date.now(),
    });
    await this.#reloadConnectors();
    return { id: parsed.id, target: parsed.target };
  }
}

/**
 * Creates a local Logto-compatible provider. Options are validated here (errors name the
 * option); nothing listens until {@link Idp.listen}.
 *
 * @example
 * ```ts
 * const idp = createIdp({ database: ':memory:', endpoint: 'http://127.0.0.1', port: 0 });
 * await idp.listen();
 * const { appId, appSecret } = await idp.createApplication({ name: 'Bookstore', redirectUris });
 * // LogtoClient({ endpoint: idp.url, appId, appSecret, ... })
 * ```
 */
export function createIdp(options: IdpOptions = {}): Idp {
  return new Idp(options);
}

export { MANAGEMENT_RESOURCE, MANAGEMENT_SCOPE };
