import { createNodeMetricsHandler, type MetricsHandlerOptions } from '@guestmode/core/web';
import type { NextApiHandler } from 'next';
import { sendError } from './port.js';

/** The engine from `createGuestmode(...)` (or a promise of it) and the scraper's secret. */
export type GuestmodeMetricsOptions = MetricsHandlerOptions;

/**
 * A Prometheus endpoint (`pages/api/metrics.ts`) for the engine's metrics and the process's
 * (event-loop lag, heap, GC), behind a token: 401 `unauthorized` without it.
 *
 * @example
 * ```ts
 * // pages/api/metrics.ts
 * export default createMetricsHandler({ guestmode: engine, token: process.env.METRICS_TOKEN! });
 * ```
 */
export function createMetricsHandler(options: GuestmodeMetricsOptions): NextApiHandler {
  const handle = createNodeMetricsHandler(options);
  return (req, res) => handle(req, res).catch((error: unknown) => sendError(res, error));
}
