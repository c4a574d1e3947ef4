import { createNodeMetricsHandler, type MetricsHandlerOptions } from '@guestmode/core/web';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** The engine from `createGuestmode(...)` and the scraper's secret (16+ characters). */
export type GuestmodeMetricsOptions = MetricsHandlerOptions;

/**
 * A Prometheus endpoint for the engine's metrics and the process's (event-loop lag, heap, GC),
 * behind a token: 401 `unauthorized` without it.
 *
 * @example
 * ```ts
 * app.get('/metrics', guestmodeMetrics({ guestmode: engine, token: process.env.METRICS_TOKEN! }));
 * ```
 */
export function guestmodeMetrics(options: GuestmodeMetricsOptions): RequestHandler {
  const handle = createNodeMetricsHandler(options);
  return (req: Request, res: Response, next: NextFunction) => {
    handle(req, res).catch(next);
  };
}
