import fastifyCookie from '@fastify/cookie';
import {
  createClientAddressResolver,
  createGuestCreationLimiter,
  type Guestmode,
  GuestmodeError,
  RawJson,
  rateLimitKey,
  toErrorResponse,
} from '@guestmode/core';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { loadConfig, type ServerConfig } from './config.js';
import { openGuestmode } from './engine.js';
import { fromFastifyError } from './errors.js';
import { Metrics } from './metrics.js';
import { checkBuildServerOptions } from './options.js';
import { JSON_TYPE, type RouteContext } from './routes/context.js';
import { dataRightsRoutes } from './routes/data-rights.js';
import { guestRoutes } from './routes/guests.js';
import { mergeRoutes } from './routes/merge.js';
import { opsRoutes } from './routes/ops.js';
import { profileRoutes } from './routes/profile.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The engine behind the service. */
    guestmode: Guestmode;
    /** Counters, histogram and the dashboard's time series. */
    metrics: Metrics;
  }
}

/** Fastify's `trustProxy` for a hop count or a proxy list (its own parser for lists). */
function trustsHop(trust: ServerConfig['trustProxy']): FastifyServerOptions['trustProxy'] {
  if (typeof trust === 'number') return trust === 0 ? false : (_address, hop) => hop < trust;
  return [...trust];
}

/** True for an `http:` URL whose host is not this machine's loopback. */
export function isPlainHttpElsewhere(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol !== 'http:') return false;
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return !(
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '::1' ||
    /^127\./.test(host)
  );
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
  checkBuildServerOptions(options);
  const config: ServerConfig = { ...loadConfig({ env: {}, argv: [] }), ...options.config };
  const now = options.now ?? Date.now;
  // The engine's purge reports through the server's logger, which exists only further down.
  let log: FastifyInstance['log'] | undefined;
  const purge = {
    onError: (err: unknown) => log?.error({ err }, 'purge failed'),
    onPurged: (deleted: number) => log?.info({ deleted }, 'purged expired guests'),
  };
  const guestmode =
    options.guestmode ??
    (await openGuestmode(config, { purge, ...(options.now ? { now: options.now } : {}) }));
  const closeGuestmode = options.closeGuestmode ?? options.guestmode === undefined;

  // Process metrics (event-loop lag, heap, GC) only where /metrics is served.
  if (config.adminToken !== undefined) guestmode.metrics.includeProcessMetrics();
  const metrics = new Metrics({
    stats: () => guestmode.stats(),
    registry: guestmode.metrics.registry,
    ...(options.statsCacheMs === undefined ? {} : { statsCacheMs: options.statsCacheMs }),
    now,
  });
  // Every refusal leaves through here, so each is counted and has the one error shape.
  const sendError = (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const answer = toErrorResponse(fromFastifyError(error));
    if (answer.log) request.log.error({ err: error }, 'request failed');
    metrics.rejected(answer.body.error.code);
    reply
      .code(answer.status)
      .headers(answer.headers)
      .type(JSON_TYPE)
      .send(JSON.stringify(answer.body));
  };
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
  const clientOf = createClientAddressResolver(config.trustProxy);
  if (config.oidc && isPlainHttpElsewhere(config.oidc.issuer)) {
    // Discovery and keys fetched over plain HTTP from another machine can be replaced in
    // transit, and with them every access token this service believes.
    app.log.warn(
      { issuer: config.oidc.issuer },
      'the OIDC issuer is plain http: on a non-loopback host; use https',
    );
  }

  try {
    const ctx: RouteContext = {
      guestmode,
      metrics,
      // An engine the server opened counts creations itself (shared through PostgreSQL); an
      // engine handed in is the app's, so the service applies its own limit in memory.
      limiter:
        config.rateLimit === false
          ? undefined
          : options.guestmode === undefined
            ? { take: (key: string) => guestmode.limitGuestCreation(key) }
            : createGuestCreationLimiter(config.rateLimit, { now }),
      clientKey: (request) =>
        rateLimitKey(clientOf(request.socket.remoteAddress, request.headers['x-forwarded-for'])),
      publicOrigin: config.publicOrigin,
      adminToken: config.adminToken,
      dashboard: config.dashboard,
      statsIntervalMs: config.statsIntervalMs,
      now,
    };
    app.decorate('guestmode', guestmode);
    app.decorate('metrics', metrics);

    await app.register(fastifyCookie);

    // Only JSON bodies: text/plain and form bodies are what a cross-site <form> can send
    // without a preflight, so refusing them (415) closes that door too. The original text is
    // kept so attribute values are stored exactly as sent.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      const text = (body as string).trim();
      if (text === '') {
        done(null, undefined);
        return;
      }
      try {
        done(null, RawJson.parse(text));
      } catch {
        done(new GuestmodeError('invalid_request', 'The body is not valid JSON.'), undefined);
      }
    });

    // Answers carry guest tokens and profiles: no cache may keep them, and the ones that depend
    // on the caller say so. A route that wants caching sets its own Cache-Control.
    app.addHook('onSend', async (request, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      if (request.url.startsWith('/v1/') && !request.url.startsWith('/v1/stats')) {
        reply.header('vary', 'Cookie, Authorization');
      }
    });

    app.setErrorHandler(sendError);
    app.setNotFoundHandler((request, reply) =>
      sendError(
        new GuestmodeError('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`),
        request,
        reply,
      ),
    );

    guestRoutes(app, ctx);
    profileRoutes(app, ctx);
    dataRightsRoutes(app, ctx);
    mergeRoutes(app, ctx);
    opsRoutes(app, ctx);

    // Background work: unref'd timers, so they never keep a process (or a test) alive. The
    // purge is the engine's own schedule (`purgeIntervalMs` configures an engine the server opens).
    const timers: NodeJS.Timeout[] = [];
    if (config.dashboard) {
      const sample = () =>
        metrics.sample().catch((err: unknown) => app.log.warn({ err }, 'stats sample failed'));
      const timer = setInterval(sample, config.statsIntervalMs);
      timer.unref();
      timers.push(timer);
      app.addHook('onReady', async () => {
        await sample();
      });
    }
    app.addHook('onClose', async () => {
      for (const timer of timers) clearInterval(timer);
      if (closeGuestmode) await guestmode.close();
    });
    return app;
  } catch (error) {
    await app.close().catch(() => undefined);
    if (closeGuestmode) await guestmode.close().catch(() => undefined);
    throw error;
  }
}
