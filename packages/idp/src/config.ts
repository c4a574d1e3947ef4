import {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkObject,
  checkString,
  optionError,
} from '@guestmode/core';
import { checkOrigin } from './options.js';

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

const DEFAULT_CLEANUP_MS = 10 * 60 * 1000;

const KNOWN: readonly (keyof IdpOptions)[] = [
  'endpoint',
  'database',
  'host',
  'port',
  'allowProduction',
  'development',
  'env',
  'warn',
  'cleanupInterval',
];

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

/** Validates options once; a bad one is a `TypeError` naming its path (`options.port: …`). */
export function resolveOptions(options: IdpOptions = {}): ResolvedOptions {
  const o = checkObject(options, 'options', KNOWN);
  const endpoint = checkOrigin(o.endpoint ?? 'http://localhost:3001', 'options.endpoint');
  const port =
    o.port === undefined
      ? undefined
      : checkInteger(o.port, 'options.port', { min: 0, max: 65_535 });
  const database = checkString(o.database ?? './data/idp.db', 'options.database');
  const host = checkString(o.host ?? '127.0.0.1', 'options.host');
  const cleanup = o.cleanupInterval ?? DEFAULT_CLEANUP_MS;
  const cleanupInterval = checkInteger(cleanup, 'options.cleanupInterval', { min: 0 });
  const warn =
    o.warn === undefined
      ? (message: string) => console.warn(message)
      : checkFunction<(message: string) => void>(o.warn, 'options.warn');
  if (o.allowProduction !== undefined) checkBoolean(o.allowProduction, 'options.allowProduction');
  if (o.development !== undefined) checkBoolean(o.development, 'options.development');
  if (o.env !== undefined) checkEnv(o.env, 'options.env');
  const env = (o.env as NodeJS.ProcessEnv | undefined) ?? process.env;

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
    allowProduction: o.allowProduction === true,
    development: o.development === true || isDevSwitchOn(env),
    env,
    warn,
    cleanupInterval,
  };
}

/** The environment: any object of strings (its keys are not ours to limit). */
function checkEnv(value: unknown, path: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw optionError(path, 'must be an object of environment variables');
  }
}
