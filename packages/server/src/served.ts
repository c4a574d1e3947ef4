/**
 * What `buildServer()` and the plugin serve, from their options: the settings of
 * `guestmode serve` overlaid with `options.config`, and the given engine or one opened from them.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { BuildServerOptions } from './app.js';
import { loadConfig } from './config.js';
import { openGuestmode } from './engine.js';
import type { MountOptions } from './mount.js';
import { checkBuildServerOptions } from './options.js';

/** {@link MountOptions} but the prefix, which only the caller knows. */
export type Served = Omit<MountOptions, 'prefix'>;

/**
 * Checks the options, then opens the engine unless one is given. Its purge and event delivery
 * report through `log()`, asked each time: the logger exists only once the Fastify instance does.
 */
export async function openServed(
  options: BuildServerOptions,
  log: () => FastifyBaseLogger | undefined,
): Promise<Served> {
  checkBuildServerOptions(options);
  const config = { ...loadConfig({ env: {}, argv: [] }), ...options.config };
  const purge = {
    onError: (err: unknown) => log()?.error({ err }, 'purge failed'),
    onPurged: (deleted: number) => log()?.info({ deleted }, 'purged expired guests'),
  };
  const guestmode =
    options.guestmode ??
    (await openGuestmode(config, {
      purge,
      onEventError: (err: unknown) => log()?.error({ err }, 'event delivery failed'),
      ...(options.now ? { now: options.now } : {}),
    }));
  return {
    guestmode,
    config,
    closeGuestmode: options.closeGuestmode ?? options.guestmode === undefined,
    openedEngine: options.guestmode === undefined,
    now: options.now ?? Date.now,
    ...(options.statsCacheMs === undefined ? {} : { statsCacheMs: options.statsCacheMs }),
  };
}

/** After a failed start: closes the engine if the service owns it (the start's error stands). */
export async function closeServed(served: Served): Promise<void> {
  if (served.closeGuestmode) await served.guestmode.close().catch(() => undefined);
}
