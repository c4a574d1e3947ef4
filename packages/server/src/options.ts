import {
  BUILT_IN_RULES,
  type BuiltInRuleName,
  checkBoolean,
  checkEventsOptions,
  checkFunction,
  checkInteger,
  checkObject,
  checkOneOf,
  checkPositiveInteger,
  checkString,
  checkUrl,
  DEFAULT_ACCESS_TOKEN_ALGORITHMS,
  type Guestmode,
  isMergeRuleKey,
  MAX_TRUSTED_HOPS,
  optionError,
  optionPath,
  parseTrustedProxies,
  type TrustedProxies,
} from '@guestmode/core';
import type { DatabaseConfig, RateLimitConfig, ServerConfig } from './config.js';

/** Every key of {@link ServerConfig}, so a misspelt one is refused instead of ignored. */
export const SERVER_CONFIG_KEYS = [
  'database',
  'oidc',
  'publicOrigin',
  'adminToken',
  'guestTtlMs',
  'mergeRules',
  'host',
  'port',
  'rateLimit',
  'bodyLimit',
  'purgeIntervalMs',
  'trustProxy',
  'dashboard',
  'statsIntervalMs',
  'logLevel',
  'events',
] as const satisfies readonly (keyof ServerConfig)[];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The bounds of `bodyLimit`, in bytes, whichever way it is given. */
export const BODY_LIMIT_RANGE = { min: 1024, max: 64 * 1024 * 1024 } as const;

function checkDatabase(value: unknown, path: string): DatabaseConfig {
  const o = value as { kind?: unknown };
  if (typeof o === 'object' && o !== null && o.kind === 'sqlite') {
    const d = checkObject(value, path, ['kind', 'path']);
    return { kind: 'sqlite', path: checkString(d.path, `${path}.path`) };
  }
  if (typeof o === 'object' && o !== null && o.kind === 'postgres') {
    const d = checkObject(value, path, ['kind', 'url']);
    checkUrl(d.url, `${path}.url`, { protocols: ['postgres:', 'postgresql:'] });
    return { kind: 'postgres', url: d.url as string };
  }
  throw optionError(path, 'must be { kind: "sqlite", path } or { kind: "postgres", url }');
}

function checkRateLimit(value: unknown, path: string): RateLimitConfig | false {
  if (value === false) return false;
  const r = checkObject(value, path, ['max', 'windowMs']);
  return {
    max: checkPositiveInteger(r.max, `${path}.max`),
    windowMs: checkInteger(r.windowMs, `${path}.windowMs`, { min: 1000 }),
  };
}

function checkMergeRules(value: unknown, path: string): Record<string, BuiltInRuleName> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw optionError(path, 'must be an object of attribute names to rule names');
  }
  for (const [key, rule] of Object.entries(value)) {
    if (!isMergeRuleKey(key))
      throw optionError(path, `"${key}" is not an attribute name or prefix*`);
    checkOneOf(rule, optionPath(path, key), BUILT_IN_RULES);
  }
  return value as Record<string, BuiltInRuleName>;
}

/** An origin such as `https://guests.example.com`: no path, query or fragment. */
function checkPublicOrigin(value: unknown, path: string): string {
  const url = checkUrl(value, path);
  if (url.origin !== value && `${url.origin}/` !== value) {
    throw optionError(path, 'must be an origin like https://guests.example.com');
  }
  return url.origin;
}

/** The admin secret: 16 or more characters without spaces or colons (never echoed). */
function checkAdminToken(value: unknown, path: string): string {
  const token = checkString(value, path);
  if (token.length < 16 || /[\s:]/.test(token)) {
    throw optionError(path, 'must be at least 16 characters, without spaces or colons');
  }
  return token;
}

function checkClientList(value: unknown, path: string): readonly string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw optionError(path, 'must be a non-empty list of client ids');
  }
  for (const [i, id] of value.entries()) checkString(id, optionPath(path, i));
  return value as string[];
}

/** A non-empty list of non-empty strings. */
function checkStringList(value: unknown, path: string): readonly string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw optionError(path, 'must be a non-empty list of strings');
  }
  for (const [i, item] of value.entries()) checkString(item, optionPath(path, i));
  return value as string[];
}

/** The OIDC settings: the verifier options that differ between providers. */
function checkOidc(value: unknown, path: string): unknown {
  const o = checkObject(value, path, [
    'issuer',
    'audience',
    'jwksUri',
    'tokenType',
    'requiredScopes',
    'algorithms',
    'allowClients',
  ]);
  const at = (key: string) => optionPath(path, key);
  checkUrl(o.issuer, at('issuer'));
  if (typeof o.audience === 'string') checkString(o.audience, at('audience'));
  else checkStringList(o.audience, at('audience'));
  if (o.jwksUri !== undefined) checkUrl(o.jwksUri, at('jwksUri'));
  if (o.tokenType !== undefined && o.tokenType !== false) checkString(o.tokenType, at('tokenType'));
  if (o.requiredScopes !== undefined) checkStringList(o.requiredScopes, at('requiredScopes'));
  if (o.algorithms !== undefined) {
    for (const [i, alg] of checkStringList(o.algorithms, at('algorithms')).entries()) {
      checkOneOf(alg, optionPath(at('algorithms'), i), DEFAULT_ACCESS_TOKEN_ALGORITHMS);
    }
  }
  if (o.allowClients !== undefined) checkClientList(o.allowClients, at('allowClients'));
  return o;
}

/** A hop count (`0`: nobody) or a list of proxy addresses and CIDR ranges; never `true`. */
function checkTrustProxy(value: unknown, path: string): TrustedProxies {
  if (typeof value === 'number')
    return checkInteger(value, path, { min: 0, max: MAX_TRUSTED_HOPS });
  if (!Array.isArray(value) || value.length === 0) {
    throw optionError(
      path,
      `must be a hop count from 0 to ${MAX_TRUSTED_HOPS} or a list of proxy addresses/CIDRs`,
    );
  }
  for (const [i, entry] of value.entries()) checkString(entry, optionPath(path, i));
  const parsed = parseTrustedProxies((value as string[]).join(','), path);
  if (!Array.isArray(parsed)) throw optionError(path, 'must list proxy addresses/CIDRs');
  return parsed;
}

/**
 * Checks the `config` that `buildServer()` receives (the same settings as the environment
 * variables, already parsed): every key known, every value of its type and range.
 */
export function checkServerConfig(value: unknown, path: string): Partial<ServerConfig> {
  const c = checkObject(value, path, SERVER_CONFIG_KEYS);
  const at = (key: string) => optionPath(path, key);
  const checks: { [K in keyof ServerConfig]: (v: unknown, p: string) => unknown } = {
    database: checkDatabase,
    oidc: (v, p) => {
      if (v === undefined) return v;
      return checkOidc(v, p);
    },
    publicOrigin: checkPublicOrigin,
    adminToken: checkAdminToken,
    guestTtlMs: (v, p) => checkInteger(v, p, { min: 60_000 }),
    mergeRules: checkMergeRules,
    host: (v, p) => checkString(v, p),
    port: (v, p) => checkInteger(v, p, { min: 0, max: 65_535 }),
    rateLimit: checkRateLimit,
    bodyLimit: (v, p) => checkInteger(v, p, BODY_LIMIT_RANGE),
    purgeIntervalMs: (v, p) => checkInteger(v, p, { min: 0 }),
    trustProxy: checkTrustProxy,
    dashboard: checkBoolean,
    statsIntervalMs: (v, p) => checkInteger(v, p, { min: 1 }),
    logLevel: (v, p) => checkOneOf(v, p, LOG_LEVELS),
    // The engine's own checks (`events` as `createGuestmode` takes it).
    events: (v, p) => checkEventsOptions(v, p),
  };
  for (const key of SERVER_CONFIG_KEYS) {
    // `oidc: undefined` means guest-only; any other undefined key keeps its default.
    if (c[key] !== undefined || key === 'oidc') checks[key](c[key], at(key));
  }
  return c as Partial<ServerConfig>;
}

/** Every option of `buildServer()`. */
export const BUILD_SERVER_OPTION_KEYS = [
  'guestmode',
  'config',
  'closeGuestmode',
  'logger',
  'now',
  'statsCacheMs',
] as const;

/** Checks the options of `buildServer()` once, before anything is opened. */
export function checkBuildServerOptions(options: unknown): void {
  const o = checkObject(options, 'options', BUILD_SERVER_OPTION_KEYS);
  if (o.guestmode !== undefined) {
    const g = o.guestmode as Partial<Guestmode> | null;
    if (typeof g !== 'object' || g === null || typeof g.authenticateGuest !== 'function') {
      throw optionError('options.guestmode', 'must be an engine made by createGuestmode()');
    }
  }
  if (o.config !== undefined) checkServerConfig(o.config, 'options.config');
  if (o.closeGuestmode !== undefined) checkBoolean(o.closeGuestmode, 'options.closeGuestmode');
  if (o.now !== undefined) checkFunction(o.now, 'options.now');
  if (o.statsCacheMs !== undefined)
    checkInteger(o.statsCacheMs, 'options.statsCacheMs', { min: 0 });
}
