import type { Guestmode } from '@guestmode/core';
import { checkEngine, createMetricsEndpoint } from '@guestmode/core/web';
import type { NextApiHandler } from 'next';
import { sendAnswer, sendError } from './port.js';

export interface GuestmodeMetricsOptions {
  /** The engine from `createGuestmode(...)`, or a promise of it. */
  readonly guestmode: Guestmode | Promise<Guestmode>;
  /** The scraper's secret (Bearer, or the Basic password), at least 16 characters. */
  readonly token: string;
}

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
  if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
  const { guestmode, ...rest } = options;
  const answer = createMetricsEndpoint(
    checkEngine(guestmode, 'options.guestmode'),
    rest,
    'options',
  );
  return async (req, res) => {
    try {
      const { status, headers, body } = await answer(req.headers.authorization);
      for (const [name, value] of Object.entries(headers)) {
        if (name !== 'content-type') res.setHeader(name, value);
      }
      sendAnswer(res, status, headers['content-type']!, body);
    } catch (error) {
      sendError(res, error);
    }
  };
}
