import { GuestmodeError } from '@guestmode/core';
import { ConnectorError, type SocialConnector } from '@logto/connector-kit';
import {
  type ConnectorFactory,
  type ConnectorRecord,
  loadConnectorFactory,
  parseConnectorRecord,
  parsedConfig,
} from './connectors.js';
import type { SocialUserInfo } from './host.js';

/**
 * Turning connector records into running Logto connectors, and the boundary around connector
 * code: its failures and its profiles are checked here before the host uses them.
 */

export interface Entry {
  record: ConnectorRecord;
  factory: ConnectorFactory;
  connector: SocialConnector;
}

/**
 * Validates every record (again, with {@link parseConnectorRecord}) and instantiates its
 * connector. Ids and targets (IdP names) are unique across all records, disabled ones included,
 * since stored identities keep referring to their target.
 *
 * @throws GuestmodeError `invalid_connector_config`, or `duplicate_connector` naming the repeated
 *   `id` or `target`.
 */
export async function loadConnectors(
  connectors: ConnectorRecord[],
  hasVault: boolean,
): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>();
  const targets = new Map<string, string>();
  for (const input of connectors) {
    const record = await parseConnectorRecord(input);
    if (entries.has(record.id)) {
      throw new GuestmodeError('duplicate_connector', `Connector id "${record.id}" is used twice`);
    }
    const other = targets.get(record.target);
    if (other !== undefined) {
      throw new GuestmodeError(
        'duplicate_connector',
        `Connectors "${other}" and "${record.id}" share the target (IdP name) "${record.target}"; targets must be unique`,
      );
    }
    targets.set(record.target, record.id);
    const factory = await loadConnectorFactory(record.factoryId);
    // Hand the connector its config with the package defaults applied: some code paths (the
    // OAuth connector's refresh) use the config unparsed.
    const config = parsedConfig(factory, record.config);
    const connector = await factory.create({
      getConfig: async (id: string) => {
        if (id !== record.factoryId) {
          throw new TypeError(`connector asked for config "${id}", expected "${record.factoryId}"`);
        }
        return config;
      },
    });
    entries.set(record.id, { record, factory, connector });
    if (record.storeTokens && !hasVault && record.enabled) {
      process.emitWarning(
        `Connector "${record.id}" has storeTokens but no vault is configured (GUESTMODE_IDP_VAULT_KEY); its tokens will not be stored`,
        { code: 'GUESTMODE_IDP_NO_VAULT' },
      );
    }
  }
  return entries;
}

/** Keeps the profile's non-empty string fields; a profile without an id is a failed sign-in. */
export function normaliseUserInfo(record: ConnectorRecord, info: SocialUserInfo): SocialUserInfo {
  if (typeof info.id !== 'string' || info.id.length === 0) {
    throw new GuestmodeError(
      'social_auth_failed',
      `${record.name.en} returned a profile without an id (check profileMap.id)`,
    );
  }
  const optional = (value: unknown) =>
    typeof value === 'string' && value.length > 0 ? value : undefined;
  const result: SocialUserInfo = { id: info.id };
  for (const key of ['name', 'avatar', 'email', 'phone'] as const) {
    const value = optional(info[key]);
    if (value !== undefined) result[key] = value;
  }
  if (info.rawData !== undefined) result.rawData = info.rawData;
  return result;
}

/** Runs connector code, wrapping its failures without leaking codes, secrets or tokens. */
export async function callConnector<T>(record: ConnectorRecord, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    if (cause instanceof GuestmodeError) throw cause;
    if (cause instanceof ConnectorError) {
      if (cause.code === 'invalid_config') {
        throw new GuestmodeError(
          'invalid_connector_config',
          `The ${record.id} connector's configuration is invalid`,
          { cause },
        );
      }
      throw new GuestmodeError(
        'social_auth_failed',
        `Sign-in with ${record.name.en} failed (${cause.code})`,
        { cause },
      );
    }
    const name = cause instanceof Error ? cause.name : 'Error';
    const reason =
      name === 'TimeoutError'
        ? 'timed out'
        : name === 'HTTPError'
          ? 'was refused by the provider'
          : cause instanceof TypeError
            ? 'could not reach the provider'
            : 'failed';
    throw new GuestmodeError('social_auth_failed', `Sign-in with ${record.name.en} ${reason}`, {
      cause,
    });
  }
}
