import { createHash, timingSafeEqual } from 'node:crypto';
import { GuestmodeError } from '@guestmode/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { dashboardHtml } from '../dashboard.js';
import { openApiDocument } from '../openapi/document.js';
import { HealthSchema, StatsSchema } from '../openapi/schemas.js';
import { JSON_TYPE, type RouteContext } from './context.js';

/** The secret presented as `Bearer <token>`, or as the password of `Basic` (browsers, Prometheus). */
function presentedSecret(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization ?? '';
  const bearer = /^Bearer +(\S+) *$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/**
 * Guards the operator's routes with the admin token. Both sides are hashed first, so the
 * comparison is constant-time whatever the lengths.
 */
function adminGuard(token: string) {
  const hashSecret = (secret: string) => createHash('sha256').update(secret).digest();
  const expected = hashSecret(token);
  return async (request: FastifyRequest) => {
    const presented = presentedSecret(request);
    if (presented === undefined || !timingSafeEqual(hashSecret(presented), expected)) {
      throw new GuestmodeError('unauthorized', 'This route needs the admin token.', {
        headers: { 'www-authenticate': 'Basic realm="guestmode admin", charset="UTF-8"' },
      });
    }
  };
}

/**
 * The probes (`/livez`, `/readyz`, `/healthz`) and `/openapi.json` for everyone; `/metrics` and the dashboard with its data only
 * with the admin token, and not at all without one configured: they describe the whole
 * service's traffic, which is the operator's business.
 */
export function opsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { guestmode, metrics } = ctx;
  // Built once: the document never changes while the process runs.
  const openApi = JSON.stringify(openApiDocument());

  const health = { schema: { response: { 200: HealthSchema } } };
  // Liveness: the process answers. It never touches the database or the provider, so an outage
  // of either does not get the process restarted, which would not fix it.
  app.get('/livez', health, async () => ({ status: 'ok' }));
  // Readiness: this instance can serve, so the database answers and, with an OIDC provider, its
  // discovery document and keys can be fetched (checked at most every few seconds).
  app.get('/readyz', health, async () => {
    await guestmode.ping();
    await ctx.provider?.check();
    return { status: 'ok' };
  });
  // The original health check, kept as documented: the process and the database answer.
  app.get('/healthz', health, async () => {
    await guestmode.ping();
    return { status: 'ok' };
  });

  app.get('/openapi.json', async (_request, reply) => {
    reply.type(JSON_TYPE);
    return openApi;
  });

  if (ctx.adminToken === undefined) return;
  const onRequest = adminGuard(ctx.adminToken);

  app.get('/metrics', { onRequest }, async (_request, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return metrics.render();
  });

  if (!ctx.dashboard) return;

  app.get('/v1/stats', { onRequest, schema: { response: { 200: StatsSchema } } }, async () => {
    const totals = await metrics.stats();
    return {
      now: ctx.now(),
      intervalMs: ctx.statsIntervalMs,
      totals: {
        created: totals.created,
        active: totals.active,
        merged: totals.merged,
        expired: totals.expired,
      },
      conversionRate: totals.created === 0 ? 0 : totals.merged / totals.created,
      samples: metrics.samples,
    };
  });

  const html = dashboardHtml();
  const serveDashboard = async (_request: unknown, reply: FastifyReply) => {
    reply.type('text/html; charset=utf-8');
    // Everything is inline; forbid anything else so the page cannot be turned against anyone.
    reply.header(
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
    );
    return html;
  };
  app.get('/', { onRequest }, serveDashboard);
  app.get('/dashboard', { onRequest }, serveDashboard);
}
