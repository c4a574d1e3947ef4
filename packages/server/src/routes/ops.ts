import type { FastifyInstance, FastifyReply } from 'fastify';
import { dashboardHtml } from '../dashboard.js';
import { HealthSchema, openApiDocument, StatsSchema } from '../openapi.js';
import { JSON_TYPE, type RouteContext } from './context.js';

/** `/healthz`, `/metrics`, `/openapi.json`, and the dashboard with its data (B4, B5). */
export function opsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { guestmode, metrics } = ctx;
  // Built once: the document never changes while the process runs.
  const openApi = JSON.stringify(openApiDocument());

  app.get('/healthz', { schema: { response: { 200: HealthSchema } } }, async () => {
    await guestmode.ping();
    return { status: 'ok' };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return metrics.render();
  });

  app.get('/openapi.json', async (_request, reply) => {
    reply.type(JSON_TYPE);
    return openApi;
  });

  if (!ctx.dashboard) return;

  app.get('/v1/stats', { schema: { response: { 200: StatsSchema } } }, async () => {
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
  app.get('/', serveDashboard);
  app.get('/dashboard', serveDashboard);
}
