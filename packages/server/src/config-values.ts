import { readFileSync } from 'node:fs';
import {
  BUILT_IN_RULES,
  type BuiltInRuleName,
  DEFAULT_ACCESS_TOKEN_ALGORITHMS,
  isMergeRuleKey,
  optionError,
  parseDuration,
  parseTrustedProxies,
  type TrustedProxies,
} from '@guestmode/core';
import type { DatabaseConfig, RateLimitConfig } from './config.js';

// Each parser turns one setting's text into its value, or throws a TypeError whose message starts
// with the setting's name (the environment variable, or the flag when it came from one).

export function duration(setting: string, value: string, minimumMs: number): number {
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

export function onOff(setting: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['on', 'true', '1', 'yes'].includes(v)) return true;
  if (['off', 'false', '0', 'no'].includes(v)) return false;
  throw optionError(setting, `"${value}" must be on or off`);
}

/** `sqlite:<path>`, `postgres://…`, or a bare file path (SQLite). */
export function parseDatabase(setting: string, value: string): DatabaseConfig {
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
  if (value.trim() === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw optionError(setting, 'must be sqlite:<path>, a file path, or a postgres:// URL');
  }
  return { kind: 'sqlite', path: value };
}

/** True when a database URL carries a password (a secret on the command line). */
export function hasPassword(value: string): boolean {
  return /^postgres(ql)?:\/\//.test(value) && URL.canParse(value) && new URL(value).password !== '';
}

/** Merge rules as inline JSON (`{"cart":"sum-by-key"}`) or the path of a JSON file holding it. */
export function parseMergeRules(setting: string, value: string): Record<string, BuiltInRuleName> {
  if (!value.trim()) return {};
  const inline = value.trimStart().startsWith('{');
  const where = inline ? 'the inline JSON' : value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(inline ? value : readFileSync(value, 'utf8'));
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : error instanceof SyntaxError
          ? `not valid JSON (${error.message})`
          : (error as Error).message;
    throw optionError(setting, `cannot read ${where}: ${reason}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw optionError(setting, `${where} must be a JSON object of attribute names to rules`);
  }
  const rules: Record<string, BuiltInRuleName> = {};
  for (const [key, rule] of Object.entries(parsed)) {
    const at = `${setting}[${JSON.stringify(key)}]`;
    if (!isMergeRuleKey(key)) {
      throw optionError(at, 'is not an attribute name or prefix*');
    }
    if (typeof rule !== 'string' || !(BUILT_IN_RULES as readonly string[]).includes(rule)) {
      throw optionError(at, `must be one of ${BUILT_IN_RULES.join(', ')}`);
    }
    rules[key] = rule as BuiltInRuleName;
  }
  return rules;
}

export function parseRateLimit(setting: string, value: string): RateLimitConfig | false {
  if (['off', 'false', '0'].includes(value.trim().toLowerCase())) return false;
  const match = /^(\d+)\s*\/\s*(.+)$/.exec(value.trim());
  const max = match ? Number(match[1]) : Number.NaN;
  if (!match || !Number.isSafeInteger(max) || max < 1) {
    throw optionError(setting, `"${value}" must be <count>/<window> (e.g. 60/1m) or off`);
  }
  return { max, windowMs: duration(setting, match[2]!, 1000) };
}

export function integer(setting: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw optionError(setting, `"${value}" must be an integer from ${min} to ${max}`);
  }
  return n;
}

export function parseTrustProxy(setting: string, value: string): TrustedProxies {
  // The core parser refuses `true` and names the setting, a TypeError like every setting.
  return parseTrustedProxies(value, setting);
}

export function parsePublicOrigin(setting: string, value: string): string | undefined {
  if (!value) return undefined;
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || !/^https?:$/.test(url.protocol) || url.pathname !== '/' || url.search || url.hash) {
    throw optionError(setting, `"${value}" must be an origin like https://guests.example.com`);
  }
  return url.origin;
}

export function parseAdminToken(setting: string, value: string): string | undefined {
  if (!value) return undefined;
  // Never echo the value: it is a secret.
  if (value.length < 16 || /[\s:]/.test(value)) {
    throw optionError(setting, 'must be at least 16 characters, without spaces or colons');
  }
  return value;
}

/** A comma- (or space-) separated list of printable words; empty gives `undefined`. */
export function parseList(setting: string, value: string, what: string): string[] | undefined {
  const items = value
    .split(/[,\s]+/)
    .map((c) => c.trim())
    .filter((c) => c !== '');
  if (items.length === 0) return undefined;
  if (items.some((c) => !/^[\x21-\x7e]+$/.test(c))) {
    throw optionError(setting, `must be ${what} separated by commas`);
  }
  return items;
}

export function parseHttpUrl(setting: string, value: string): string {
  if (!URL.canParse(value) || !/^https?:/.test(value)) {
    throw optionError(setting, `"${value}" is not an http(s) URL`);
  }
  return value;
}

/** The required `typ` header: a media type name, or `any` (no check). */
export function parseTokenType(setting: string, value: string): string | false {
  const v = value.trim();
  if (v.toLowerCase() === 'any') return false;
  if (!/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\/[A-Za-z0-9!#$&^_.+-]+)?$/.test(v)) {
    throw optionError(setting, `"${value}" must be a token type such as at+jwt or JWT, or any`);
  }
  return v;
}

export function parseAlgorithms(setting: string, value: string): string[] | undefined {
  const algorithms = parseList(setting, value, 'algorithm names');
  for (const alg of algorithms ?? []) {
    if (!(DEFAULT_ACCESS_TOKEN_ALGORITHMS as readonly string[]).includes(alg)) {
      throw optionError(
        setting,
        `"${alg}" is not allowed; choose from ${DEFAULT_ACCESS_TOKEN_ALGORITHMS.join(', ')}`,
      );
    }
  }
  return algorithms;
}
