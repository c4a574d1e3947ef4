import { GuestmodeError } from '@guestmode/core';
import type { ConnectorMetadata, CreateConnector, SocialConnector } from '@logto/connector-kit';

/** The connector packages this host can run, by their connector-kit factory id. */
export type ConnectorFactoryId = 'oauth2' | 'amazon-universal';

/**
 * One configured social connector, as stored by the provider and as written in the JSON file
 * given to `guestmode idp connector add --file`.
 *
 * `config` holds the connector package's own fields (the seeds' names): for `oauth2`
 * `authorizationEndpoint`, `tokenEndpoint`, `userInfoEndpoint`, `clientId`, `clientSecret`,
 * `tokenEndpointAuthMethod`, `clientSecretJwtSigningAlgorithm`, `scope`,
 * `tokenEndpointResponseType`, `profileMap`, `customConfig`, `responseType`, `grantType`;
 * for `amazon-universal` `clientId`, `clientSecret`, `scope`.
 */
export interface ConnectorRecord {
  /** Appears in the callback URL `<endpoint>/callback/<id>`: letters, digits, `-`, `_`. */
  id: string;
  factoryId: ConnectorFactoryId;
  /** The IdP name that social identities are keyed by; unique across connectors. */
  target: string;
  /** Button label: the sign-in page shows `Continue with <name>`. */
  name: { en: string; ja?: string };
  /** Button logo: an absolute http(s) URL, a root-relative path, or a `data:image/…` URL. */
  logo?: string;
  config: Record<string, unknown>;
  /** Copy name/avatar/email from the upstream profile on sign-up only, or on every sign-in. */
  syncProfile: 'on-sign-up' | 'on-every-sign-in';
  /** Keep the upstream's tokens, encrypted with the host's {@link TokenVault}. */
  storeTokens: boolean;
  enabled: boolean;
}

/** The parts of a zod schema this module relies on, without depending on zod itself. */
interface ConfigGuard {
  safeParse(
    input: unknown,
  ):
    | { success: true; data: Record<string, unknown> }
    | { success: false; error: { issues: ZodIssueLike[] } };
  shape?: Record<string, unknown>;
}

interface ZodIssueLike {
  code: string;
  path: Array<string | number>;
  expected?: unknown;
  received?: unknown;
  options?: unknown[];
  keys?: string[];
}

/** @internal A connector package, loaded once, with what it says about itself. */
export interface ConnectorFactory {
  id: ConnectorFactoryId;
  create: CreateConnector<SocialConnector>;
  metadata: ConnectorMetadata;
  configGuard: ConfigGuard;
  /** Whether the package can hand out the upstream's token response, for token storage. */
  tokenStorageSupported: boolean;
}

const factoryIds: readonly ConnectorFactoryId[] = ['oauth2', 'amazon-universal'];
const factories = new Map<ConnectorFactoryId, Promise<ConnectorFactory>>();

/** @internal Loads a connector package lazily: each one pulls in its own dependency tree. */
export function loadConnectorFactory(id: ConnectorFactoryId): Promise<ConnectorFactory> {
  let factory = factories.get(id);
  if (!factory) {
    factory = (async () => {
      const create: CreateConnector<SocialConnector> =
        id === 'oauth2'
          ? (await import('@logto/connector-oauth')).default
          : (await import('@logto/connector-amazon')).default;
      // A probe instance exposes metadata and configGuard; getConfig is only called per request.
      const probe = await create({
        getConfig: async () => {
          throw new TypeError('probe connector has no configuration');
        },
      });
      return {
        id,
        create,
        metadata: probe.metadata,
        configGuard: probe.configGuard as unknown as ConfigGuard,
        tokenStorageSupported:
          probe.metadata.isTokenStorageSupported === true &&
          typeof probe.getTokenResponseAndUserInfo === 'function',
      };
    })();
    factories.set(id, factory);
  }
  return factory;
}

const recordKeys = new Set([
  'id',
  'factoryId',
  'target',
  'name',
  'logo',
  'config',
  'syncProfile',
  'storeTokens',
  'enabled',
]);
const idPattern = /^[A-Za-z0-9_-]{1,64}$/;
const targetPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const urlFields = ['authorizationEndpoint', 'tokenEndpoint', 'userInfoEndpoint'] as const;

function invalid(message: string): GuestmodeError {
  return new GuestmodeError('invalid_connector_config', `Invalid connector: ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/**
 * Describes a zod issue by path and expectation only. Never the received value: the field may be
 * `clientSecret`, and zod's own messages quote received enum values.
 */
function describeIssue(issue: ZodIssueLike): string {
  const path = ['config', ...issue.path].join('.');
  switch (issue.code) {
    case 'invalid_type':
      return issue.received === 'undefined'
        ? `${path} is required`
        : `${path} must be ${String(issue.expected)}, not ${String(issue.received)}`;
    case 'invalid_enum_value':
      return `${path} must be one of ${(issue.options ?? []).map(String).join(', ')}`;
    case 'invalid_literal':
      return `${path} must be ${JSON.stringify(issue.expected)}`;
    case 'unrecognized_keys':
      return `${path} has unknown keys ${(issue.keys ?? []).join(', ')}`;
    default:
      return `${path} is invalid`;
  }
}

function checkLogo(logo: unknown): string | undefined {
  if (logo === undefined) return undefined;
  if (typeof logo !== 'string' || logo.length === 0 || logo.length > 100_000) {
    throw invalid('logo must be a non-empty string');
  }
  // The logo ends up in an <img src>: refuse javascript: and other active schemes.
  if (logo.startsWith('/') && !logo.startsWith('//')) return logo;
  if (/^data:image\/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=]+$/.test(logo)) return logo;
  try {
    const url = new URL(logo);
    if (url.protocol === 'https:' || url.protocol === 'http:') return logo;
  } catch {
    // Fall through to the error below.
  }
  throw invalid('logo must be an http(s) URL, a path starting with /, or a data:image base64 URL');
}

function checkName(name: unknown, fallback: string): { en: string; ja?: string } {
  if (name === undefined) return { en: fallback };
  if (!isPlainObject(name)) throw invalid('name must be an object like {"en": "…", "ja": "…"}');
  for (const key of Object.keys(name)) {
    if (key !== 'en' && key !== 'ja') throw invalid(`name.${key} is not supported (use en, ja)`);
  }
  const check = (key: 'en' | 'ja', value: unknown) => {
    if (typeof value !== 'string' || value.trim().length === 0 || value.length > 64) {
      throw invalid(`name.${key} must be a non-empty string of at most 64 characters`);
    }
    return value.trim();
  };
  const en = check('en', name.en);
  return name.ja === undefined ? { en } : { en, ja: check('ja', name.ja) };
}

/**
 * Validates a connector record (for example the parsed JSON of `connector add --file`) and its
 * `config` with the connector package's own `configGuard`, plus the checks the host needs:
 * absolute http(s) endpoints, no unknown keys (a typo such as `tokenEndpointAuthmethod` would
 * otherwise silently fall back to a default), a fixed `target` for non-standard connectors
 * (Amazon's IdP name is always `amazon`, as in Logto), and `storeTokens` only where the package
 * can return the upstream's tokens.
 *
 * Defaults: `syncProfile` `on-sign-up`, `storeTokens` false, `enabled` true, `name` and (for
 * Amazon) `target` from the package's metadata.
 *
 * @throws GuestmodeError `invalid_connector_config` whose message names the offending field and
 *   never contains a configured value.
 *
 * @example
 * ```ts
 * const record = await parseConnectorRecord(JSON.parse(await readFile('connector.json', 'utf8')));
 * ```
 */
export async function parseConnectorRecord(json: unknown): Promise<ConnectorRecord> {
  if (!isPlainObject(json)) throw invalid(`expected a JSON object, got ${typeName(json)}`);
  const unknownKeys = Object.keys(json).filter((key) => !recordKeys.has(key));
  if (unknownKeys.length > 0) throw invalid(`unknown field(s) ${unknownKeys.join(', ')}`);

  const { id, factoryId } = json;
  if (typeof id !== 'string' || !idPattern.test(id)) {
    throw invalid('id must be 1-64 characters of letters, digits, "-" or "_"');
  }
  if (typeof factoryId !== 'string' || !factoryIds.includes(factoryId as ConnectorFactoryId)) {
    throw invalid(`factoryId must be one of ${factoryIds.join(', ')}`);
  }
  const factory = await loadConnectorFactory(factoryId as ConnectorFactoryId);

  let target = json.target;
  if (target === undefined && factory.metadata.isStandard !== true)
    target = factory.metadata.target;
  if (typeof target !== 'string' || !targetPattern.test(target)) {
    throw invalid(
      'target must be 1-64 characters of letters, digits, ".", "-" or "_", starting with a letter or digit',
    );
  }
  if (factory.metadata.isStandard !== true && target !== factory.metadata.target) {
    throw invalid(`target must be "${factory.metadata.target}" for the ${factoryId} connector`);
  }

  const name = checkName(json.name, factory.metadata.name.en ?? factoryId);
  const logo = checkLogo(json.logo);

  const syncProfile = json.syncProfile ?? 'on-sign-up';
  if (syncProfile !== 'on-sign-up' && syncProfile !== 'on-every-sign-in') {
    throw invalid('syncProfile must be "on-sign-up" or "on-every-sign-in"');
  }
  const storeTokens = json.storeTokens ?? false;
  if (typeof storeTokens !== 'boolean') throw invalid('storeTokens must be a boolean');
  if (storeTokens && !factory.tokenStorageSupported) {
    throw invalid(
      `storeTokens is not supported by the ${factoryId} connector (it does not return the provider's tokens)`,
    );
  }
  const enabled = json.enabled ?? true;
  if (typeof enabled !== 'boolean') throw invalid('enabled must be a boolean');

  const config = json.config;
  if (!isPlainObject(config)) throw invalid(`config must be an object, got ${typeName(config)}`);
  const allowed = factory.configGuard.shape ? Object.keys(factory.configGuard.shape) : undefined;
  const unknownConfig = allowed ? Object.keys(config).filter((key) => !allowed.includes(key)) : [];
  if (unknownConfig.length > 0) {
    throw invalid(
      `config has unknown field(s) ${unknownConfig.join(', ')} (allowed: ${allowed?.join(', ')})`,
    );
  }
  const result = factory.configGuard.safeParse(config);
  if (!result.success) throw invalid(result.error.issues.map(describeIssue).join('; '));
  for (const field of urlFields) {
    const value = result.data[field];
    if (value === undefined) continue;
    let ok = false;
    try {
      const url = new URL(String(value));
      ok = url.protocol === 'https:' || url.protocol === 'http:';
    } catch {
      ok = false;
    }
    if (!ok) throw invalid(`config.${field} must be an absolute http(s) URL`);
  }

  return {
    id,
    factoryId: factoryId as ConnectorFactoryId,
    target,
    name,
    ...(logo === undefined ? {} : { logo }),
    config: { ...config },
    syncProfile,
    storeTokens,
    enabled,
  };
}

/** @internal Parses a validated record's config with its guard, applying the package defaults. */
export function parsedConfig(
  factory: ConnectorFactory,
  config: Record<string, unknown>,
): Record<string, unknown> {
  const result = factory.configGuard.safeParse(config);
  if (!result.success) throw invalid(result.error.issues.map(describeIssue).join('; '));
  return result.data;
}
