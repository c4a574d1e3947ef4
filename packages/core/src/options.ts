import type { AccessTokenVerifier, AccessTokenVerifierOptions } from './access-token.js';
import { ATTRIBUTE_NAME_PATTERN } from './attributes.js';
import { parseDuration } from './duration.js';
import {
  BUILT_IN_RULES,
  type BuiltInRuleName,
  builtInRules,
  type MergeRule,
} from './merge/rules.js';
import type { GuestStorage, StorageLimits } from './storage/types.js';

/**
 * The one way every Guestmode package validates its options. Each check takes the value, the
 * path that names it for the programmer (`options.limits.maxAttributes`, `--port`,
 * `GUESTMODE_GUEST_TTL`) and throws a `TypeError` reading `<path>: <what it must be>`. A bad
 * option is the caller's mistake, never a client's, so it is not a `GuestmodeError`; messages
 * never echo the value, which may be a secret or a connection string.
 *
 * @example
 * ```ts
 * const o = checkObject(options, 'options', ['port', 'host']);
 * const port = o.port === undefined ? 4000 : checkInteger(o.port, 'options.port', { min: 0, max: 65_535 });
 * ```
 */

/** A `TypeError` from a check, with the path it names. */
export type OptionError = TypeError & { readonly option: string };

/**
 * The `TypeError` every check throws: `<path>: <problem>`, with `option` set to the path so a
 * command-line program can tell a bad setting (print it, exit 2) from a bug.
 */
export function optionError(path: string, problem: string): OptionError {
  return Object.assign(new TypeError(`${path}: ${problem}`), { option: path });
}

/** True for a `TypeError` thrown by {@link optionError}. */
export function isOptionError(error: unknown): error is OptionError {
  return error instanceof TypeError && typeof (error as { option?: unknown }).option === 'string';
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** The path of `key` inside the object at `path`: `options.port`, `rules["draft:*"]`, `[0]`. */
export function optionPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (path === '') return key;
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * A plain object whose own keys are all in `knownKeys`. An unknown key is refused rather than
 * ignored: a misspelt option (`guestTTL`) would otherwise silently fall back to its default.
 */
export function checkObject(
  value: unknown,
  path: string,
  knownKeys: readonly string[],
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw optionError(path, 'must be an object');
  }
  for (const key of Object.keys(value)) {
    if (!knownKeys.includes(key)) {
      throw optionError(
        optionPath(path, key),
        `unknown option (expected one of ${knownKeys.join(', ')})`,
      );
    }
  }
  return value as Record<string, unknown>;
}

/** A string; `maxLength` bounds it, and it must not be empty or blank unless `allowEmpty`. */
export function checkString(
  value: unknown,
  path: string,
  { allowEmpty = false, maxLength }: { allowEmpty?: boolean; maxLength?: number } = {},
): string {
  if (typeof value !== 'string') throw optionError(path, 'must be a string');
  if (!allowEmpty && value.trim() === '') throw optionError(path, 'must not be empty');
  if (maxLength !== undefined && value.length > maxLength) {
    throw optionError(path, `must be at most ${maxLength} characters`);
  }
  return value;
}

export function checkBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw optionError(path, 'must be true or false');
  return value;
}

export function checkFunction<T extends (...args: never[]) => unknown>(
  value: unknown,
  path: string,
): T {
  if (typeof value !== 'function') throw optionError(path, 'must be a function');
  return value as T;
}

/** A safe integer from `min` to `max` (both included). */
export function checkInteger(
  value: unknown,
  path: string,
  { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number },
): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw optionError(path, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** An integer of at least 1. */
export function checkPositiveInteger(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw optionError(path, 'must be a positive integer');
  }
  return value;
}

/** One of `allowed`, compared exactly. */
export function checkOneOf<const T extends string>(
  value: unknown,
  path: string,
  allowed: readonly T[],
): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw optionError(path, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function formatMs(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * A duration (`30d`, `12h`, `90m`, `45s`, `500ms`, or a number of seconds) of at least
 * `minMs`, in milliseconds.
 */
export function checkDuration(value: unknown, path: string, { minMs = 1 } = {}): number {
  const ms =
    typeof value === 'string' || typeof value === 'number' ? parseDuration(value) : undefined;
  if (ms === undefined || ms < minMs) {
    throw optionError(
      path,
      `must be a duration of at least ${formatMs(minMs)} (examples: 30d, 12h, 90m, 30s)`,
    );
  }
  return ms;
}

/** An absolute URL whose scheme is one of `protocols` (e.g. `['http:', 'https:']`). */
export function checkUrl(
  value: unknown,
  path: string,
  { protocols = ['http:', 'https:'] }: { protocols?: readonly string[] } = {},
): URL {
  if (typeof value !== 'string' || !URL.canParse(value)) {
    throw optionError(path, 'must be an absolute URL');
  }
  const url = new URL(value);
  if (!protocols.includes(url.protocol)) {
    throw optionError(path, `must use ${protocols.join(' or ')}`);
  }
  return url;
}

/** A merge rule: a built-in rule's name or the app's own function. */
export function checkMergeRule(value: unknown, path: string): MergeRule {
  if (typeof value === 'function') return value as MergeRule;
  if (typeof value === 'string' && (BUILT_IN_RULES as readonly string[]).includes(value)) {
    return builtInRules[value as BuiltInRuleName];
  }
  throw optionError(path, `must be one of ${BUILT_IN_RULES.join(', ')} or a function`);
}

/** An attribute name, or a prefix ending in `*`, or `*` alone: a key of `mergeRules`. */
export function isMergeRuleKey(key: string): boolean {
  if (key === '*') return true;
  return ATTRIBUTE_NAME_PATTERN.test(key.endsWith('*') ? key.slice(0, -1) : key);
}

/** Every option {@link checkGuestmodeOptions} accepts. */
export const GUESTMODE_OPTION_KEYS = [
  'storage',
  'guestTtl',
  'limits',
  'mergeRules',
  'defaultMergeRule',
  'accessTokens',
  'now',
  'purge',
  'guestCreationLimit',
  'events',
] as const;

export const DEFAULT_GUEST_TTL_MS = 30 * 86_400_000;
export const DEFAULT_LIMITS: StorageLimits = Object.freeze({
  maxValueBytes: 64 * 1024,
  maxProfileBytes: 1024 * 1024,
  maxAttributes: 256,
});

/** The engine's options, checked and with every default filled in. */
export interface CheckedGuestmodeOptions {
  readonly storage: GuestStorage;
  readonly ttlMs: number;
  readonly limits: StorageLimits;
  /** Rules by exact attribute name. */
  readonly exactRules: ReadonlyMap<string, MergeRule>;
  /** Rules by prefix (the key without its `*`), longest prefix first. */
  readonly prefixRules: readonly (readonly [prefix: string, rule: MergeRule])[];
  readonly defaultRule: MergeRule;
  /** A ready verifier or the options to make one; `undefined` when tokens are not verified. */
  readonly accessTokens: AccessTokenVerifierOptions | AccessTokenVerifier | undefined;
  readonly now: () => number;
  readonly purge: CheckedPurgeOptions;
  /** `false` when the app switched the limit off. */
  readonly guestCreationLimit: GuestCreationLimit | false;
}

/** The purge schedule, checked: `intervalMs` is 0 when the schedule is off. */
export interface CheckedPurgeOptions {
  readonly intervalMs: number;
  readonly onError: ((error: unknown) => void) | undefined;
  readonly onPurged: ((deleted: number) => void) | undefined;
}

/** Guest creations allowed per client address (IPv4, or IPv6 /64) in one fixed window. */
export interface GuestCreationLimit {
  readonly max: number;
  readonly windowMs: number;
}

/** How often the engine purges expired guests unless told otherwise: hourly. */
export const DEFAULT_PURGE_INTERVAL_MS = 3_600_000;
/** The guest-creation limit unless told otherwise: 60 new guests per address and minute. */
export const DEFAULT_GUEST_CREATION_LIMIT: GuestCreationLimit = Object.freeze({
  max: 60,
  windowMs: 60_000,
});

function checkPurgeOptions(value: unknown): CheckedPurgeOptions {
  const o =
    value === undefined
      ? {}
      : checkObject(value, 'options.purge', ['enabled', 'intervalMs', 'onError', 'onPurged']);
  const enabled = o.enabled === undefined ? true : checkBoolean(o.enabled, 'options.purge.enabled');
  const intervalMs =
    o.intervalMs === undefined
      ? DEFAULT_PURGE_INTERVAL_MS
      : checkInteger(o.intervalMs, 'options.purge.intervalMs', { min: 1, max: 2_147_483_647 });
  const hook = (key: 'onError' | 'onPurged') =>
    o[key] === undefined ? undefined : checkFunction(o[key], `options.purge.${key}`);
  return {
    intervalMs: enabled ? intervalMs : 0,
    onError: hook('onError') as CheckedPurgeOptions['onError'],
    onPurged: hook('onPurged') as CheckedPurgeOptions['onPurged'],
  };
}

/** `false`, or `{ max, window }` with `window` a duration (`1m`, `30s`) of at least one second. */
export function checkGuestCreationLimit(value: unknown, path: string): GuestCreationLimit | false {
  if (value === undefined) return DEFAULT_GUEST_CREATION_LIMIT;
  if (value === false) return false;
  const o = checkObject(value, path, ['max', 'window']);
  return {
    max:
      o.max === undefined
        ? DEFAULT_GUEST_CREATION_LIMIT.max
        : checkPositiveInteger(o.max, optionPath(path, 'max')),
    windowMs:
      o.window === undefined
        ? DEFAULT_GUEST_CREATION_LIMIT.windowMs
        : checkDuration(o.window, optionPath(path, 'window'), { minMs: 1000 }),
  };
}

/**
 * Checks the options of `createGuestmode()` once, at construction: unknown keys, types,
 * ranges, rule names. The access-token options are checked by `createAccessTokenVerifier`.
 *
 * @example
 * ```ts
 * const checked = checkGuestmodeOptions({ storage, guestTtl: '7d', mergeRules: { cart: 'sum-by-key' } });
 * checked.ttlMs; // 604800000
 * ```
 */
export function checkGuestmodeOptions(options: unknown): CheckedGuestmodeOptions {
  const o = checkObject(options, 'options', GUESTMODE_OPTION_KEYS);
  const storage = o.storage as GuestStorage | undefined;
  if (typeof storage !== 'object' || storage === null || typeof storage.merge !== 'function') {
    throw optionError('options.storage', 'must be a Guestmode storage adapter');
  }
  const ttlMs =
    o.guestTtl === undefined
      ? DEFAULT_GUEST_TTL_MS
      : checkDuration(o.guestTtl, 'options.guestTtl', { minMs: 60_000 });

  const limitsIn =
    o.limits === undefined
      ? {}
      : checkObject(o.limits, 'options.limits', Object.keys(DEFAULT_LIMITS));
  const limit = (key: keyof StorageLimits) =>
    limitsIn[key] === undefined
      ? DEFAULT_LIMITS[key]
      : checkPositiveInteger(limitsIn[key], `options.limits.${key}`);
  const limits: StorageLimits = {
    maxValueBytes: limit('maxValueBytes'),
    maxProfileBytes: limit('maxProfileBytes'),
    maxAttributes: limit('maxAttributes'),
  };
  if (limits.maxValueBytes > limits.maxProfileBytes) {
    throw optionError('options.limits.maxValueBytes', 'must not exceed maxProfileBytes');
  }

  const exactRules = new Map<string, MergeRule>();
  const prefixRules: [string, MergeRule][] = [];
  if (o.mergeRules !== undefined) {
    if (typeof o.mergeRules !== 'object' || o.mergeRules === null || Array.isArray(o.mergeRules)) {
      throw optionError('options.mergeRules', 'must be an object of attribute names to rules');
    }
    for (const [key, rule] of Object.entries(o.mergeRules)) {
      if (!isMergeRuleKey(key)) {
        throw optionError('options.mergeRules', `"${key}" is not an attribute name or prefix*`);
      }
      // Always bracketed: rule keys such as `draft:*` are rarely identifiers.
      const resolved = checkMergeRule(rule, `options.mergeRules[${JSON.stringify(key)}]`);
      if (key.endsWith('*')) prefixRules.push([key.slice(0, -1), resolved]);
      else exactRules.set(key, resolved);
    }
    prefixRules.sort((a, b) => b[0].length - a[0].length);
  }
  const defaultRule = checkMergeRule(o.defaultMergeRule ?? 'user-wins', 'options.defaultMergeRule');

  if (
    o.accessTokens !== undefined &&
    (typeof o.accessTokens !== 'object' || o.accessTokens === null)
  ) {
    throw optionError('options.accessTokens', 'must be verifier options or a verifier');
  }
  const now = o.now === undefined ? Date.now : checkFunction<() => number>(o.now, 'options.now');

  return {
    storage,
    ttlMs,
    limits,
    exactRules,
    prefixRules,
    defaultRule,
    accessTokens: o.accessTokens as CheckedGuestmodeOptions['accessTokens'],
    now,
    purge: checkPurgeOptions(o.purge),
    guestCreationLimit: checkGuestCreationLimit(o.guestCreationLimit, 'options.guestCreationLimit'),
  };
}
