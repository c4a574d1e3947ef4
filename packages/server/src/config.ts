import {
  type BuiltInRuleName,
  checkOneOf,
  type EventsOptions,
  optionError,
  type TrustedProxies,
} from '@guestmode/core';
import {
  duration,
  hasPassword,
  integer,
  onOff,
  parseAdminToken,
  parseAlgorithms,
  parseDatabase,
  parseHttpUrl,
  parseList,
  parseMergeRules,
  parsePublicOrigin,
  parseRateLimit,
  parseTokenType,
  parseTrustProxy,
} from './config-values.js';
import { BODY_LIMIT_RANGE, LOG_LEVELS } from './options.js';
import { SETTINGS, type SettingEnv } from './settings.js';
import { parseFlags } from './usage.js';
import { loadEvents } from './webhook-settings.js';

export { SETTINGS } from './settings.js';

/** Guest creations allowed per client address in one window. */
export interface RateLimitConfig {
  readonly max: number;
  readonly windowMs: number;
}

/** Where guests live, from `GUESTMODE_DATABASE_URL`. */
export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string };

/**
 * How access tokens are verified: the access-token verifier's options that differ between
 * providers. Logto's tokens pass with issuer and audience alone; Keycloak and Microsoft Entra
 * sign theirs with `typ: JWT`, so they need `tokenType: 'JWT'`.
 */
export interface OidcConfig {
  readonly issuer: string;
  /** The audience (`aud`) tokens must carry; with several, any one of them. */
  readonly audience: string | readonly string[];
  /** The JWKS URL, instead of `jwks_uri` from the issuer's discovery document. */
  readonly jwksUri?: string;
  /** Required `typ` header. Default `at+jwt`; `false` checks none. */
  readonly tokenType?: string | false;
  /** Scopes every token must carry (`scope`, or Entra's `scp`). Default none. */
  readonly requiredScopes?: readonly string[];
  /** Allowed signing algorithms. Default every asymmetric JWS algorithm. */
  readonly algorithms?: readonly string[];
  /** Clients whose machine-to-machine tokens may act as users (default none). */
  readonly allowClients?: readonly string[];
}

/** Everything `guestmode serve` and `guestmode purge` need, validated once. */
export interface ServerConfig {
  readonly database: DatabaseConfig;
  /** The OIDC provider; without it the service is guest-only and refuses every access token. */
  readonly oidc: OidcConfig | undefined;
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
  /** Lifecycle events and their webhooks; `undefined` when no endpoint is configured. */
  readonly events: EventsOptions | undefined;
}

/** What {@link loadConfig} reads: the environment and the command-line arguments after the command. */
export interface ConfigSource {
  readonly env?: NodeJS.ProcessEnv;
  readonly argv?: readonly string[];
  /** Where warnings go (a secret given as a flag). Default: none. */
  readonly warn?: (message: string) => void;
}

/** The flags of every setting, parsed strictly: an unknown flag is a `UsageError`. */
export function parseSettingFlags(argv: readonly string[]): Record<string, string | undefined> {
  const options = Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: 'string' as const }]));
  return parseFlags(argv, options).values as Record<string, string | undefined>;
}

/**
 * Reads and validates every setting, flags first, then the environment, then the defaults.
 * A bad setting is the operator's mistake, so it throws a `TypeError` whose one-line message
 * starts with the setting's name (the environment variable, or the flag when it came from one):
 * `PORT: "abc" must be an integer from 0 to 65535`. An unknown flag throws a `UsageError`.
 *
 * @example
 * ```ts
 * const config = loadConfig({ env: process.env, argv: ['--port', '4100'] });
 * ```
 */
export function loadConfig(source: ConfigSource = {}): ServerConfig {
  const env = source.env ?? process.env;
  const flags = parseSettingFlags(source.argv ?? []);
  const get = (envName: SettingEnv): { name: string; value: string } => {
    const setting = SETTINGS.find((s) => s.env === envName)!;
    const flag = flags[setting.flag];
    if (flag !== undefined) {
      if ('secret' in setting && (setting.env !== 'GUESTMODE_DATABASE_URL' || hasPassword(flag))) {
        source.warn?.(
          `warning: --${setting.flag} on the command line is visible to other users of this machine; prefer ${setting.env}`,
        );
      }
      return { name: `--${setting.flag}`, value: flag };
    }
    for (const name of [envName, 'fallbackEnv' in setting ? setting.fallbackEnv : undefined]) {
      const fromEnv = name === undefined ? undefined : env[name];
      if (fromEnv !== undefined && fromEnv !== '') return { name: name!, value: fromEnv };
    }
    return { name: envName, value: setting.default };
  };

  const db = get('GUESTMODE_DATABASE_URL');
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
    oidc: loadOidc(get),
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
    events: loadEvents(get),
  };
}

type Get = (envName: SettingEnv) => { name: string; value: string };

/** The OIDC settings: none without an issuer; the verifier's other settings need one. */
function loadOidc(get: Get): OidcConfig | undefined {
  const issuer = get('GUESTMODE_OIDC_ISSUER');
  const audience = get('GUESTMODE_OIDC_AUDIENCE');
  if (!issuer.value) {
    if (audience.value) {
      throw optionError('GUESTMODE_OIDC_ISSUER', 'is required with GUESTMODE_OIDC_AUDIENCE');
    }
    return undefined;
  }
  parseHttpUrl(issuer.name, issuer.value);
  const audiences = parseList(audience.name, audience.value, 'audiences');
  if (!audiences) {
    throw optionError(
      'GUESTMODE_OIDC_AUDIENCE',
      'is required with GUESTMODE_OIDC_ISSUER (the audience, aud, of access tokens)',
    );
  }
  const jwks = get('GUESTMODE_OIDC_JWKS_URI');
  const typ = get('GUESTMODE_OIDC_TOKEN_TYPE');
  const scopes = get('GUESTMODE_OIDC_REQUIRED_SCOPES');
  const algs = get('GUESTMODE_OIDC_ALGORITHMS');
  const clients = get('GUESTMODE_OIDC_ALLOW_CLIENTS');
  const requiredScopes = parseList(scopes.name, scopes.value, 'scopes');
  const algorithms = parseAlgorithms(algs.name, algs.value);
  const allowClients = parseList(clients.name, clients.value, 'client ids');
  const tokenType = parseTokenType(typ.name, typ.value);
  return {
    issuer: issuer.value,
    audience: audiences.length === 1 ? audiences[0]! : audiences,
    ...(jwks.value ? { jwksUri: parseHttpUrl(jwks.name, jwks.value) } : {}),
    ...(tokenType !== 'at+jwt' ? { tokenType } : {}),
    ...(requiredScopes ? { requiredScopes } : {}),
    ...(algorithms ? { algorithms } : {}),
    ...(allowClients ? { allowClients } : {}),
  };
}
