import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  type AccessTokenVerifierOptions,
  createGuestmode,
  type Guestmode,
  type GuestmodeOptions,
  type GuestStorage,
} from '@guestmode/core';
import type { DatabaseConfig, OidcConfig, ServerConfig } from './config.js';

/** The access-token verifier's options for the service's OIDC settings. */
export function verifierOptions(oidc: OidcConfig): AccessTokenVerifierOptions {
  const { tokenType, ...rest } = oidc;
  return { ...rest, ...(tokenType !== undefined ? { typ: tokenType } : {}) };
}

/**
 * Opens the storage named by `GUESTMODE_DATABASE_URL` and runs its migrations. Adapters are
 * imported on demand so that a PostgreSQL deployment never loads the native SQLite module and
 * the other way round.
 */
export async function openStorage(database: DatabaseConfig): Promise<GuestStorage> {
  if (database.kind === 'postgres') {
    const { openPostgresStorage } = await import('@guestmode/core/postgres');
    return openPostgresStorage({ database: database.url });
  }
  if (database.path !== ':memory:') {
    // The default `./data/guestmode.db` must work on a fresh checkout.
    mkdirSync(dirname(database.path), { recursive: true });
  }
  const { openSqliteStorage } = await import('@guestmode/core/sqlite');
  return openSqliteStorage({ database: database.path });
}

/**
 * The engine as `guestmode serve` configures it.
 *
 * @example
 * ```ts
 * const guestmode = await openGuestmode(loadConfig());
 * ```
 */
export async function openGuestmode(
  config: Pick<
    ServerConfig,
    'database' | 'oidc' | 'guestTtlMs' | 'mergeRules' | 'purgeIntervalMs' | 'rateLimit'
  > &
    Partial<Pick<ServerConfig, 'events'>>,
  options: {
    now?: () => number;
    purge?: GuestmodeOptions['purge'];
    /** Run the delivery worker (`guestmode serve`); one-shot commands only write events. */
    deliver?: boolean;
    onEventError?: (error: unknown) => void;
  } = {},
): Promise<Guestmode> {
  const storage = await openStorage(config.database);
  try {
    return createGuestmode({
      storage,
      guestTtl: `${config.guestTtlMs}ms`,
      mergeRules: config.mergeRules,
      // The engine purges on its own timer and counts guest creations (in the database on
      // PostgreSQL, so every instance of the service shares one budget per address).
      purge:
        config.purgeIntervalMs > 0
          ? { ...options.purge, intervalMs: config.purgeIntervalMs }
          : { enabled: false },
      guestCreationLimit:
        config.rateLimit === false
          ? false
          : { max: config.rateLimit.max, window: `${config.rateLimit.windowMs}ms` },
      ...(config.oidc ? { accessTokens: verifierOptions(config.oidc) } : {}),
      ...(options.now ? { now: options.now } : {}),
      ...(config.events ? { events: withDelivery(config.events, options) } : {}),
    });
  } catch (error) {
    await storage.close();
    throw error;
  }
}

function withDelivery(
  events: NonNullable<ServerConfig['events']>,
  options: { deliver?: boolean; onEventError?: (error: unknown) => void },
): NonNullable<ServerConfig['events']> {
  return {
    ...events,
    delivery: {
      ...events.delivery,
      enabled: options.deliver ?? true,
      ...(options.onEventError ? { onError: options.onEventError } : {}),
    },
  };
}
