import type { Guestmode } from '@guestmode/core';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ServerConfig } from './config.js';
import { mountGuestmode, type SendError } from './mount.js';
import { closeServed, openServed } from './served.js';

export { isPlainHttpElsewhere } from './mount.js';

/** Fastify's `trustProxy` for a hop count or a proxy list (its own parser for lists). */
function trustsHop(trust: ServerConfig['trustProxy']): FastifyServerOptions['trustProxy'] {
  if (typeof trust === 'number') return trust === 0 ? false : (_address, hop) => hop < trust;
  return [...trust];
}

/** Options of {@link buildServer}. */
export interface BuildServerOptions {
  /**
   * An engine to serve. Without one, the server opens its own from `config` (database, OIDC,
   * TTL, merge rules) and closes it when the server closes.
   */
  readonly guestmode?: Guestmode;
  /** Settings; anything left out takes the default of `guestmode serve`. */
  readonly config?: Partial<ServerConfig>;
  /** Close the engine with the server. Default: only when the server opened it. */
  readonly closeGuestmode?: boolean;
  /** Fastify's logger option. Default off (tests); `guestmode serve` turns it on. */
  readonly logger?: FastifyServerOptions['logger'];
  /** The clock (epoch ms) of the rate limiter, metrics, and of an engine the server opens. */
  readonly now?: () => number;
  /** How long `stats()` answers are reused by /metrics and /v1/stats. Default 5000 ms. */
  readonly statsCacheMs?: number;
}

/**
 * Builds the Guestmode HTTP service as a Fastify instance, ready for `listen()` or `inject()`.
 *
 * @example
 * ```ts
 * const app = await buildServer({ config: { database: { kind: 'sqlite', path: './data/gm.db' } } });
 * await app.listen({ host: '127.0.0.1', port: 4000 });
 * ```
 */
export async function buildServer(options: BuildServerOptions = {}): Promise<FastifyInstance> {
  // The engine's purge reports through the server's logger, which exists only further down.
  let log: FastifyInstance['log'] | undefined;
  const served = await openServed(options, () => log);
  const { config } = served;

  // Router-level refusals reach the service's error answer once it is mounted.
  let sendError: SendError = (_error, _request, reply) => reply.code(500).send();
  const fastifyOptions: FastifyServerOptions = {
    logger: options.logger ?? false,
    bodyLimit: config.bodyLimit,
    // The same trust as the rate limit's client address, so `request.protocol` and the limit
    // believe exactly the same proxies.
    trustProxy: trustsHop(config.trustProxy),
    return503OnClosing: true,
    // Attribute names are at most 128 characters; longer path segments are refused by the
    // router (frameworkErrors below) before any handler runs.
    routerOptions: { maxParamLength: 256 },
    // Router-level refusals (malformed URL, overlong segment) get the same error shape.
    frameworkErrors: (error, request, reply) => sendError(error, request, reply),
  };
  const app = Fastify(fastifyOptions);
  log = app.log;
  try {
    sendError = await mountGuestmode(app, { ...served, prefix: '' });
    return app;
  } catch (error) {
    await app.close().catch(() => undefined);
    await closeServed(served);
    throw error;
  }
}
