import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  BUILT_IN_RULES,
  type BuiltInRuleName,
  checkOneOf,
  isMergeRuleKey,
  optionError,
  parseDuration,
  parseTrustedProxies,
  type TrustedProxies,
} from '@guestmode/core';
import { BODY_LIMIT_RANGE, LOG_LEVELS } from './options.js';

/** Guest creations allowed per client address in one window. */
export interface RateLimitConfig {
  readonly max: number;
  readonly windowMs: number;
}

/** Where guests live, from `GUESTMODE_DATABASE_URL`. */
export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string };

/** Everything `guestmode serve` and `guestmode purge` need, validated once. */
export interface ServerConfig {
  readonly database: DatabaseConfig;
  /** The OIDC provider; without it the service is guest-only and refuses every access token. */
  readonly oidc:
    | {
        readonly issuer: string;
        readonly audience: string;
        /** Clients whose machine-to-machine tokens may act as users (default none). */
        readonly allowClients?: readonly string[];
      }
    | undefined;
  /**
   * The service's public origin (`https://guests.example.com`). Browser requests that create a
   * guest must come from it; unset, the origin the request was addressed to is used.
   */
  readonly publicOrigin: string | undefined;
  /**
   * The secret that opens the dashboard, `/v1/stats` and `/metrics` (Bearer, or Basic with it as
   * the password). Unset, those routes are not served at all.
   */
  readonly adminToken: string | undefined;
  /** Guest lifetime in milliseconds. */
  readonly guestTtlMs: number;
  readonly mergeRules: Readonly<Record<string, BuiltInRuleName>>;
  readonly host: string;
  readonly port: number;
  /** `false` switches the guest-creation rate limit off. */
  readonly rateLimit: RateLimitConfig | false;
  /** Largest request body in bytes. */
  readonly bodyLimit: number;
  /**
   * How often the engine the service opens purges expired guests, in ms; `0` switches its timer
   * off. An engine handed to `buildServer` purges on its own schedule (`options.purge`).
   */
  readonly purgeIntervalMs: number;
  /**
   * Whose `X-Forwarded-*` headers to believe: a hop count (`0`: nobody) or proxy addresses and
   * CIDR ranges. It decides the client address of the rate limit and `X-Forwarded-Proto`.
   */
  readonly trustProxy: TrustedProxies;
  /** Serve the dashboard (`GET /`) and its data (`GET /v1/stats`). */
  readonly dashboard: boolean;
  /** How often the dashboard's time series is sampled, in ms. */
  readonly statsIntervalMs: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/**
 * Each setting: its environment variable, its flag, and its default. The table is also what
 * `guestmode --help` prints, so the two cannot drift apart.
 */
export const SETTINGS = [
  {
    env: 'GUESTMODE_DATABASE_URL',
    flag: 'database-url',
    default: 'sqlite:./data/guestmode.db',
    help: 'sqlite:<path> or postgres://user:pass@host/db',
  },
  {
    env: 'GUESTMODE_OIDC_ISSUER',
    flag: 'oidc-issuer',
    default: '',
    help: 'OIDC issuer URL (discovery is read from it); unset = guest-only',
  },
  {
    env: 'GUESTMODE_OIDC_AUDIENCE',
    flag: 'oidc-audience',
    default: '',
    help: 'API resource indicator access tokens must carry (aud)',
  },
  {
    env: 'GUESTMODE_OIDC_ALLOW_CLIENTS',
    flag: 'oidc-allow-clients',
    default: '',
    help: 'client ids whose machine-to-machine tokens may act as users (comma-separated)',
  },
  {
    env: 'GUESTMODE_PUBLIC_URL',
    flag: 'public-url',
    default: '',
    help: "the service's public origin; browser guest creations must come from it",
  },
  {
    env: 'GUESTMODE_ADMIN_TOKEN',
    flag: 'admin-token',
    default: '',
    help: 'secret (16+ characters) that opens /, /v1/stats and /metrics; unset = not served',
  },
  {
    env: 'GUESTMODE_GUEST_TTL',
    flag: 'guest-ttl',
    default: '30d',
    help: 'guest lifetime: 30d, 12h, 90m (at least 1m)',
  },
  {
    env: 'GUESTMODE_MERGE_RULES',
    flag: 'merge-rules',
    default: '',
    help: 'path of a JSON file {"cart":"sum-by-key",...}',
  },
  { env: 'HOST', flag: 'host', default: '127.0.0.1', help: 'address to listen on' },
  { env: 'PORT', flag: 'port', default: '4000', help: 'port to listen on' },
  {
    env: 'GUESTMODE_RATE_LIMIT',
    flag: 'rate-limit',
    default: '60/1m',
    help: 'guest creations per client address: <count>/<window>, or off',
  },
  {
    env: 'GUESTMODE_BODY_LIMIT',
    flag: 'body-limit',
    default: '1048576',
    help: 'largest request body in bytes',
  },
  {
    env: 'GUESTMODE_PURGE_INTERVAL',
    flag: 'purge-interval',
    default: '1h',
    help: 'how often expired guests are deleted, or off',
  },
  {
    env: 'GUESTMODE_TRUST_PROXY',
    flag: 'trust-proxy',
    default: 'false',
    help: 'believe X-Forwarded-* from: false, a hop count (1, 2), or proxy addresses/CIDRs',
  },
  {
    env: 'GUESTMODE_DASHBOARD',
    flag: 'dashboard',
    default: 'on',
    help: 'serve the dashboard at / and /v1/stats: on or off',
  },
  {
    env: 'GUESTMODE_STATS_INTERVAL',
    flag: 'stats-interval',
    default: '10s',
    help: 'dashboard sampling interval',
  },
  {
    env: 'GUESTMODE_LOG_LEVEL',
    flag: 'log-level',
    default: 'info',
    help: 'fatal, error, warn, info, debug, trace or silent',
  },
] as const;

type SettingEnv = (typeof SETTINGS)[number]['env'];

function duration(setting: string, value: string, minimumMs: number): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < minimumMs) {
    const floor = minimumMs >= 60_000 ? `${minimumMs / 60_000}m` : `${minimumMs}ms`;
    throw optionError(
      setting,
      `"${value}" is not a duration of at least ${floor} (examples: 30d, 12h, 90m, 30s)`,
    );
  }
  return ms;
}

function onOff(setting: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['on', 'true', '1', 'yes'].includes(v)) return true;
  if (['off', 'false', '0', 'no'].includes(v)) return false;
  throw optionError(setting, `"${value}" must be on or off`);
}

function parseDatabase(setting: string, value: string): DatabaseConfig {
  if (value.startsWith('postgres://') || value.startsWith('postgresql://')) {
    if (!URL.canParse(value)) {
      throw optionError(setting, 'is not a valid postgres:// URL');
    }
    return { kind: 'postgres', url: value };
  }
  if (value.startsWith('sqlite:')) {
    // `sqlite:./data/x.db`, `sqlite:/abs/x.db`, `sqlite:///abs/x.db`, `sqlite::memory:`.
    const path = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path.length === 0) throw optionError(setting, 'sqlite: needs a file path');
    return { kind: 'sqlite', path };
  }
  // Never echo the value: it may be a connection string with a password.
  throw optionError(setting, 'must start with sqlite: or postgres://');
}

function parseMergeRules(setting: string, path: string): Record<string, BuiltInRuleName> {
  if (!path) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : error instanceof SyntaxError
          ? `not valid JSON (${error.message})`
          : (error as Error).message;
    throw optionError(setting, `cannot read ${path}: ${reason}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw optionError(setting, `${path} must hold a JSON object of attribute names to rules`);
  }
  const rules: Record<string, BuiltInRuleName> = {};
  for (const [key, rule] of Object.entries(parsed)) {
    if (!isMergeRuleKey(key)) {
      throw optionError(setting, `"${key}" is not an attribute name or prefix*`);
    }
    if (typeof rule !== 'string' || !(BUILT_IN_RULES as readonly string[]).includes(rule)) {
      throw optionError(
        setting,
        `the rule for "${key}" must be one of ${BUILT_IN_RULES.join(', ')}`,
      );
    }
    rules[key] = rule as BuiltInRuleName;
  }
  return rules;
}

function parseRateLimit(setting: string, value: string): RateLimitConfig | false {
  if (['off', 'false', '0'].includes(value.trim().toLowerCase())) return false;
  const match = /^(\d+)\s*\/\s*(.+)$/.exec(value.trim());
  const max = match ? Number(match[1]) : Number.NaN;
  if (!match || !Number.isSafeInteger(max) || max < 1) {
    throw optionError(setting, `"${value}" must be <count>/<window> (e.g. 60/1m) or off`);
  }
  return { max, windowMs: duration(setting, match[2]!, 1000) };
}

function integer(setting: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw optionError(setting, `"${value}" must be an integer from ${min} to ${max}`);
  }
  return n;
}

function parseTrustProxy(setting: string, value: string): TrustedProxies {
  // The core parser refuses `true` and names the setting, a TypeError like every setting.
  return parseTrustedProxies(value, setting);
}

function parsePublicOrigin(setting: string, value: string): string | undefined {
  if (!value) return undefined;
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || !/^https?:$/.test(url.protocol) || url.pathname !== '/' || url.search || url.hash) {
    throw optionError(setting, `"${value}" must be an origin like https://guests.example.com`);
  }
  return url.origin;
}

function parseAdminToken(setting: string, value: string): string | undefined {
  if (!value) return undefined;
  // Never echo the value: it is a secret.
  if (value.length < 16 || /[\s:]/.test(value)) {
    throw optionError(setting, 'must be at least 16 characters, without spaces or colons');
  }
  return value;
}

function parseClientList(setting: string, value: string): string[] | undefined {
  const clients = value
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  if (clients.length === 0) return undefined;
  if (clients.some((c) => !/^[\x21-\x7e]+$/.test(c))) {
    throw optionError(setting, 'must be client ids separated by commas');
  }
  return clients;
}

/** What {@link loadConfig} reads: the environment and the command-line arguments after the command. */
export interface ConfigSource {
  readonly env?: NodeJS.ProcessEnv;
  readonly argv?: readonly string[];
}

/**
 * Reads and validates every setting, flags first, then the environment, then the defaults.
 * A bad setting is the operator's mistake, so it throws a `TypeError` whose one-line message
 * starts with the setting's name (the environment variable, or the flag when it came from one):
 * `PORT: "abc" must be an integer from 0 to 65535`.
 *
 * @example
 * ```ts
 * const config = loadConfig({ env: process.env, argv: ['--port', '4100'] });
 * ```
 */
export function loadConfig(source: ConfigSource = {}): ServerConfig {
  const env = source.env ?? process.env;
  let flags: Record<string, string | undefined>;
  try {
    const options = Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: 'string' as const }]));
    flags = parseArgs({ args: [...(source.argv ?? [])], options, strict: true }).values as Record<
      string,
      string | undefined
    >;
  } catch (error) {
    // parseArgs' message names the flag ("Unknown option '--prot'").
    throw optionError('arguments', (error as Error).message.split('\n')[0]!);
  }
  const get = (envName: SettingEnv): { name: string; value: string } => {
    const setting = SETTINGS.find((s) => s.env === envName)!;
    const flag = flags[setting.flag];
    if (flag !== undefined) return { name: `--${setting.flag}`, value: flag };
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') return { name: envName, value: fromEnv };
    return { name: envName, value: setting.default };
  };

  const db = get('GUESTMODE_DATABASE_URL');
  const issuer = get('GUESTMODE_OIDC_ISSUER');
  const audience = get('GUESTMODE_OIDC_AUDIENCE');
  let oidc: ServerConfig['oidc'];
  if (issuer.value) {
    if (!URL.canParse(issuer.value) || !/^https?:/.test(issuer.value)) {
      throw optionError(issuer.name, `"${issuer.value}" is not an http(s) URL`);
    }
    if (!audience.value) {
      throw optionError(
        'GUESTMODE_OIDC_AUDIENCE',
        'is required with GUESTMODE_OIDC_ISSUER (the API resource indicator of access tokens)',
      );
    }
    const clients = get('GUESTMODE_OIDC_ALLOW_CLIENTS');
    const allowClients = parseClientList(clients.name, clients.value);
    oidc = {
      issuer: issuer.value,
      audience: audience.value,
      ...(allowClients ? { allowClients } : {}),
    };
  } else if (audience.value) {
    throw optionError('GUESTMODE_OIDC_ISSUER', 'is required with GUESTMODE_OIDC_AUDIENCE');
  }

  const ttl = get('GUESTMODE_GUEST_TTL');
  const rules = get('GUESTMODE_MERGE_RULES');
  const host = get('HOST');
  if (!host.value.trim()) throw optionError(host.name, 'must not be empty');
  const port = get('PORT');
  const rate = get('GUESTMODE_RATE_LIMIT');
  const body = get('GUESTMODE_BODY_LIMIT');
  const purge = get('GUESTMODE_PURGE_INTERVAL');
  const dashboard = get('GUESTMODE_DASHBOARD');
  const trust = get('GUESTMODE_TRUST_PROXY');
  const stats = get('GUESTMODE_STATS_INTERVAL');
  const log = get('GUESTMODE_LOG_LEVEL');
  const publicUrl = get('GUESTMODE_PUBLIC_URL');
  const adminToken = get('GUESTMODE_ADMIN_TOKEN');
  const logLevel = checkOneOf(log.value, log.name, LOG_LEVELS);

  return {
    database: parseDatabase(db.name, db.value),
    oidc,
    publicOrigin: parsePublicOrigin(publicUrl.name, publicUrl.value),
    adminToken: parseAdminToken(adminToken.name, adminToken.value),
    guestTtlMs: duration(ttl.name, ttl.value, 60_000),
    mergeRules: parseMergeRules(rules.name, rules.value),
    host: host.value.trim(),
    port: integer(port.name, port.value, 0, 65_535),
    rateLimit: parseRateLimit(rate.name, rate.value),
    bodyLimit: integer(body.name, body.value, BODY_LIMIT_RANGE.min, BODY_LIMIT_RANGE.max),
    purgeIntervalMs: ['off', '0'].includes(purge.value.trim().toLowerCase())
      ? 0
      : duration(purge.name, purge.value, 1000),
    trustProxy: parseTrustProxy(trust.name, trust.value),
    dashboard: onOff(dashboard.name, dashboard.value),
    statsIntervalMs: duration(stats.name, stats.value, 100),
    logLevel,
  };
}
