import { optionError } from '@guestmode/core';
import type { FastifyPluginAsync } from 'fastify';
import type { BuildServerOptions } from './app.js';
import { mountGuestmode } from './mount.js';
import { closeServed, openServed } from './served.js';

/** Options of {@link guestmodePlugin}: those of `buildServer()` but the logger (the host's is used). */
export type GuestmodePluginOptions = Omit<BuildServerOptions, 'logger'>;

/** Keys Fastify's `register()` itself reads; they are not the plugin's options. */
const REGISTER_KEYS = new Set(['prefix', 'logLevel', 'logSerializers']);

/**
 * The service as a Fastify plugin, to mount its API under a prefix of an existing app: the same
 * routes, error answers and security headers as `guestmode serve`. It is encapsulated: its JSON
 * parser, hooks, error and not-found handlers apply to its own routes only, so the host's routes
 * keep their own. Server-wide settings belong to the host: `trustProxy` (for `X-Forwarded-Proto`)
 * and the router's limits; the body limit is set on each of the plugin's routes.
 *
 * @example
 * ```ts
 * const app = Fastify();
 * await app.register(guestmodePlugin, {
 *   prefix: '/guestmode',
 *   config: { database: { kind: 'postgres', url: process.env.DATABASE_URL! } },
 * });
 * ```
 */
export const guestmodePlugin: FastifyPluginAsync<GuestmodePluginOptions> = async (
  instance,
  registered,
) => {
  const options = Object.fromEntries(
    Object.entries(registered).filter(([key]) => !REGISTER_KEYS.has(key)),
  ) as GuestmodePluginOptions;
  if ('logger' in options) {
    throw optionError('options.logger', "is the host app's: the plugin logs through it");
  }
  const served = await openServed(options, () => instance.log);
  try {
    await mountGuestmode(instance, { ...served, prefix: instance.prefix });
  } catch (error) {
    await closeServed(served);
    throw error;
  }
};
