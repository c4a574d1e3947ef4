import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Guestmode } from '../engine.js';
import { GuestmodeError, toErrorResponse } from '../errors.js';
import { checkObject, checkString } from '../options.js';
import { checkEngine } from './sign-in-options.js';

/** What a metrics request gets: the status, headers and body to send. */
export interface MetricsAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Options of {@link createMetricsEndpoint}. */
export interface MetricsEndpointOptions {
  /**
   * The secret a scraper presents, as `Authorization: Bearer <token>` or as the password of
   * `Basic` (Prometheus' `basic_auth`). At least 16 characters; there is no unprotected mode.
   */
  readonly token: string;
}

const hash = (secret: string) => createHash('sha256').update(secret).digest();

/** The secret presented as `Bearer <token>`, or as the password of `Basic`. */
function presentedSecret(header: string | undefined): string | undefined {
  const bearer = /^Bearer +(\S+) *$/i.exec(header ?? '');
  if (bearer) return bearer[1];
  const basic = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header ?? '');
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/**
 * The Prometheus endpoint every web adapter serves: the engine's metrics plus the process's
 * (event-loop lag, heap, GC), behind a token compared in constant time (both sides hashed).
 * Adapters only pass the `Authorization` header in and send the answer out.
 *
 * @example
 * ```ts
 * const metrics = createMetricsEndpoint(engine, { token: process.env.METRICS_TOKEN! }, 'options');
 * const { status, headers, body } = await metrics(req.headers.authorization);
 * ```
 */
export function createMetricsEndpoint(
  engine: Guestmode | Promise<Guestmode>,
  options: MetricsEndpointOptions,
  path: string,
): (authorization: string | undefined) => Promise<MetricsAnswer> {
  const o = checkObject(options, path, ['token']);
  const token = checkString(o.token, `${path}.token`);
  if (token.length < 16) throw new TypeError(`${path}.token: must be at least 16 characters`);
  const expected = hash(token);
  let included = false;
  return async (authorization): Promise<MetricsAnswer> => {
    const presented = presentedSecret(authorization);
    if (presented === undefined || !timingSafeEqual(hash(presented), expected)) {
      const answer = toErrorResponse(
        new GuestmodeError('unauthorized', 'This route needs the metrics token.', {
          headers: { 'www-authenticate': 'Bearer realm="guestmode metrics"' },
        }),
      );
      return {
        status: answer.status,
        headers: { ...answer.headers, 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(answer.body),
      };
    }
    const { metrics } = await engine;
    if (!included) {
      metrics.includeProcessMetrics();
      included = true;
    }
    return {
      status: 200,
      headers: { 'content-type': metrics.contentType, 'cache-control': 'no-store' },
      body: await metrics.render(),
    };
  };
}

/** Options of {@link createNodeMetricsHandler}: the engine beside the endpoint's own options. */
export interface MetricsHandlerOptions extends MetricsEndpointOptions {
  /** The engine from `createGuestmode(...)`, or a promise of it. */
  readonly guestmode: Guestmode | Promise<Guestmode>;
}

/**
 * {@link createMetricsEndpoint} as a handler of Node's request and response, the one Express and
 * Next's Pages Router serve. Options are checked here, once; the returned promise rejects when
 * the engine cannot answer, for the adapter's own error handling.
 *
 * @example
 * ```ts
 * const metrics = createNodeMetricsHandler({ guestmode: engine, token: process.env.METRICS_TOKEN! });
 * http.createServer((req, res) => void metrics(req, res).catch(() => res.end()));
 * ```
 */
export function createNodeMetricsHandler(
  options: MetricsHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
  const { guestmode, ...rest } = options;
  const answer = createMetricsEndpoint(
    checkEngine(guestmode, 'options.guestmode'),
    rest,
    'options',
  );
  return async (req, res) => {
    const { status, headers, body } = await answer(req.headers.authorization);
    res.statusCode = status;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.setHeader('Cache-Control', 'no-store');
    res.end(body);
  };
}
