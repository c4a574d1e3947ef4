import type { Guestmode } from '@guestmode/core';
import { createMetricsEndpoint } from '@guestmode/core/web';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

export interface GuestmodeMetricsOptions {
  /** The engine from `createGuestmode(...)`. */
  readonly guestmode: Guestmode;
  /** The scraper's secret (Bearer, or the Basic password), at least 16 characters. */
  readonly token: string;
}

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
  if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
  const { guestmode: engine, ...rest } = options;
  if (!engine || typeof engine.limitGuestCreation !== 'function') {
    throw new TypeError('options.guestmode must be the engine from createGuestmode()');
  }
  const answer = createMetricsEndpoint(engine, rest, 'options');
  return (req: Request, res: Response, next: NextFunction) => {
    answer(req.headers.authorization).then(({ status, headers, body }) => {
      res.status(status).set(headers).send(body);
    }, next);
  };
}
