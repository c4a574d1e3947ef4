import { InvalidOptionError } from './errors.js';

/** Options of {@link createIdp}. Every one is optional. */
export interface IdpOptions {
  /**
   * The public origin, as apps configure it in the Logto SDKs. Default `http://localhost:3001`;
   * the issuer is `<endpoint>/oidc`. When `port` is given (e.g. `0` in tests), the URL's port is
   * replaced by the port actually bound.
   */
  endpoint?: string;
  /** SQLite file (created with its folder) or `:memory:`. Default `./data/idp.db`. */
  database?: string;
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** Port to bind; `0` picks a free one. Default: the endpoint's port. */
  port?: number;
  /**
   * Allows `NODE_ENV=production`. This provider is a development tool (no rate limits, no
   * MFA, no admin console); the override exists for production-like staging rehearsals only.
   */
  allowProduction?: boolean;
  /**
   * Says, on purpose, that this is a development or demo setup. Without it (or
   * `GUESTMODE_DEV=1` in `env`, CLI `--dev`) the provider only binds and names loopback
   * addresses: containers often leave `NODE_ENV` unset, so that alone cannot keep a
   * development tool off a public interface.
   */
  development?: boolean;
  /**
   * Environment to read `NODE_ENV`, `GUESTMODE_DEV` and `GUESTMODE_IDP_VAULT_KEY` from. Default
   * `process.env`.
   */
  env?: NodeJS.ProcessEnv;
  /** Where start-up warnings go. Default `console.warn`; pass `() => {}` to silence tests. */
  warn?: (message: string) => void;
  /** How often expired rows are swept, in ms. Default 10 minutes; `0` disables the timer. */
  cleanupInterval?: number;
}

export interface ResolvedOptions {
  endpoint: URL;
  /** Whether the endpoint port should follow the bound port. */
  followPort: boolean;
  database: string;
  host: string;
  port: number;
  allowProduction: boolean;
  /** `development: true` or `GUESTMODE_DEV=1`. */
  development: boolean;
  env: NodeJS.ProcessEnv;
  warn: (message: string) => void;
  cleanupInterval: number;
}

const KNOWN = new Set([
  'endpoint',
  'database',
  'host',
  'port',
  'allowProduction',
  'development',
  'env',
  'warn',
  'cleanupInterval',
]);

/** The environment switch that marks a development setup: `GUESTMODE_DEV=1` (or `true`). */
export const DEV_SWITCH_ENV = 'GUESTMODE_DEV';

/** True when `GUESTMODE_DEV` is `1`, `true`, `on` or `yes`. */
export function isDevSwitchOn(env: NodeJS.ProcessEnv): boolean {
  return ['1', 'true', 'on', 'yes'].includes((env[DEV_SWITCH_ENV] ?? '').trim().toLowerCase());
}

/** True for `localhost` (and `*.localhost`), `127.0.0.0/8` and `::1`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    h === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
  );
}

/** Validates options once, naming the offending option. */
export function resolveOptions(options: IdpOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createIdp options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new InvalidOptionError(key, 'unknown option');
  }

  let endpoint: URL;
  try {
    endpoint = new URL(options.endpoint ?? 'http://localhost:3001');
  } catch {
    throw new InvalidOptionError(
      'endpoint',
      'must be an absolute URL such as http://localhost:3001',
    );
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
    throw new InvalidOptionError('endpoint', 'must use http: or https:');
  }
  if ((endpoint.pathname !== '/' && endpoint.pathname !== '') || endpoint.search || endpoint.hash) {
    throw new InvalidOptionError('endpoint', 'must be an origin without path, query or fragment');
  }
  if (endpoint.username || endpoint.password) {
    throw new InvalidOptionError('endpoint', 'must not contain credentials');
  }

  const port = options.port;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new InvalidOptionError('port', 'must be an integer from 0 to 65535');
  }
  const database = options.database ?? './data/idp.db';
  if (typeof database !== 'string' || database === '') {
    throw new InvalidOptionError('database', 'must be a file path or ":memory:"');
  }
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') {
    throw new InvalidOptionError('host', 'must be a host name or IP address');
  }
  const cleanupInterval = options.cleanupInterval ?? 10 * 60 * 1000;
  if (!Number.isInteger(cleanupInterval) || cleanupInterval < 0) {
    throw new InvalidOptionError('cleanupInterval', 'must be a non-negative integer (ms)');
  }
  if (options.warn !== undefined && typeof options.warn !== 'function') {
    throw new InvalidOptionError('warn', 'must be a function');
  }

  if (options.development !== undefined && typeof options.development !== 'boolean') {
    throw new InvalidOptionError('development', 'must be a boolean');
  }
  const env = options.env ?? process.env;

  const defaultPort = endpoint.port
    ? Number(endpoint.port)
    : endpoint.protocol === 'https:'
      ? 443
      : 80;
  return {
    endpoint,
    followPort: port !== undefined,
    database,
    host,
    port: port ?? defaultPort,
    allowProduction: options.allowProduction === true,
    development: options.development === true || isDevSwitchOn(env),
    env,
    warn: options.warn ?? ((message) => console.warn(message)),
    cleanupInterval,
  };
}
