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
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerConfig } from './config.js';
import { fromFastifyError } from './errors.js';
import { Metrics } from './metrics.js';
import { createProviderProbe } from './readiness.js';
import { JSON_TYPE, type RouteContext } from './routes/context.js';
import { dataRightsRoutes } from './routes/data-rights.js';
import { guestRoutes } from './routes/guests.js';
import { mergeRoutes } from './routes/merge.js';
import { opsRoutes } from './routes/ops.js';
import { profileRoutes } from './routes/profile.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The engine behind the service (on the instance, or plugin scope, that mounts it). */
    guestmode: Guestmode;
    /** Counters, histogram and the dashboard's time series. */
    metrics: Metrics;
  }
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

/** Everything {@link mountGuestmode} needs, already checked and resolved. */
export interface MountOptions {
  readonly guestmode: Guestmode;
  readonly config: ServerConfig;
  readonly closeGuestmode: boolean;
  /**
   * Whether the service opened the engine from its settings: such an engine counts guest
   * creations itself (in the database on PostgreSQL, one budget for every instance); an engine
   * handed in is the app's, so the service applies its own limit in memory.
   */
  readonly openedEngine: boolean;
  readonly now: () => number;
  readonly statsCacheMs?: number;
  /** The path the routes are mounted under (`''` for a whole server). */
  readonly prefix: string;
}

/** Answers any error in the one error shape, counting the refusal. */
export type SendError = (error: unknown, request: FastifyRequest, reply: FastifyReply) => void;

/**
 * Mounts the service on `app`: its JSON parser, security headers, error answers, routes and
 * background timers. `app` is a whole server (`buildServer`) or the encapsulated scope of the
 * plugin, where the parser, hooks and handlers stay inside and the host's routes keep theirs.
 */
export async function mountGuestmode(
  app: FastifyInstance,
  options: MountOptions,
): Promise<SendError> {
  const { guestmode, config, closeGuestmode, now, prefix } = options;
  // Process metrics (event-loop lag, heap, GC) only where /metrics is served.
  if (config.adminToken !== undefined) guestmode.metrics.includeProcessMetrics();
  const metrics = new Metrics({
    stats: () => guestmode.stats(),
    registry: guestmode.metrics.registry,
    ...(options.statsCacheMs === undefined ? {} : { statsCacheMs: options.statsCacheMs }),
    now,
  });
  // Every refusal leaves through here, so each is counted and has the one error shape.
  const sendError: SendError = (error, request, reply) => {
    const answer = toErrorResponse(fromFastifyError(error));
    if (answer.log) request.log.error({ err: error }, 'request failed');
    metrics.rejected(answer.body.error.code);
    reply
      .code(answer.status)
      .headers(answer.headers)
      .type(JSON_TYPE)
      .send(JSON.stringify(answer.body));
  };
  const clientOf = createClientAddressResolver(config.trustProxy);
  if (config.oidc && isPlainHttpElsewhere(config.oidc.issuer)) {
    // Discovery and keys fetched over plain HTTP from another machine can be replaced in
    // transit, and with them every access token this service believes.
    app.log.warn(
      { issuer: config.oidc.issuer },
      'the OIDC issuer is plain http: on a non-loopback host; use https',
    );
  }
  // The service's own path of a request, whatever prefix it is mounted under.
  const ownPath = (request: FastifyRequest) => request.url.slice(prefix.length);
  // The body limit is a server option; in a host's app it is set on each of our routes instead.
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= config.bodyLimit;
  });
  const ctx: RouteContext = {
    guestmode,
    metrics,
    limiter:
      config.rateLimit === false
        ? undefined
        : options.openedEngine
          ? { take: (key: string) => guestmode.limitGuestCreation(key) }
          : createGuestCreationLimiter(config.rateLimit, { now }),
    clientKey: (request) =>
      rateLimitKey(clientOf(request.socket.remoteAddress, request.headers['x-forwarded-for'])),
    publicOrigin: config.publicOrigin,
    adminToken: config.adminToken,
    dashboard: config.dashboard,
    statsIntervalMs: config.statsIntervalMs,
    now,
    provider: config.oidc ? createProviderProbe(config.oidc, { now }) : undefined,
  };
  app.decorate('guestmode', guestmode);
  app.decorate('metrics', metrics);

  // Not wrapped in fastify-plugin: it decorates this scope only, not the host's.
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
    const path = ownPath(request);
    if (path.startsWith('/v1/') && !path.startsWith('/v1/stats')) {
      reply.header('vary', 'Cookie, Authorization');
    }
  });

  app.setErrorHandler(sendError);
  app.setNotFoundHandler((request, reply) =>
    sendError(
      new GuestmodeError(
        'not_found',
        `No route ${request.method} ${ownPath(request).split('?')[0]}.`,
      ),
      request,
      reply,
    ),
  );

  guestRoutes(app, ctx);
  profileRoutes(app, ctx);
  dataRightsRoutes(app, ctx);
  mergeRoutes(app, ctx);
  opsRoutes(app, ctx);

  // Background work: unref'd timers, so they never keep a process (or a test) alive. The purge
  // is the engine's own schedule (`purgeIntervalMs` configures an engine the service opens).
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
  return sendError;
}
