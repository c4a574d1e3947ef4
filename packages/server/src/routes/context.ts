import type { GuestCreationLimiter, Guestmode, RawJson } from '@guestmode/core';
import type { FastifyRequest } from 'fastify';
import type { Metrics } from '../metrics.js';
import type { ProviderProbe } from '../readiness.js';

/** What every route module needs: the engine and the service's own state. */
export interface RouteContext {
  readonly guestmode: Guestmode;
  readonly metrics: Metrics;
  /** `undefined` when the guest-creation limit is switched off. */
  readonly limiter: Pick<GuestCreationLimiter, 'take'> | undefined;
  /** The rate-limit key of a request: its client address (IPv6 by /64), proxies considered. */
  readonly clientKey: (request: FastifyRequest) => string;
  /** The origin browser guest creations must come from; `undefined`: the request's own. */
  readonly publicOrigin: string | undefined;
  /** Opens the dashboard, `/v1/stats` and `/metrics`; `undefined`: they are not served. */
  readonly adminToken: string | undefined;
  readonly dashboard: boolean;
  readonly statsIntervalMs: number;
  readonly now: () => number;
  /** Checks the OIDC provider for `/readyz`; `undefined` without one (guest-only). */
  readonly provider: ProviderProbe | undefined;
}

/**
 * A JSON request body as parsed by the service: `text` is exactly what the client sent (handed
 * to the engine as it is, so values are not re-serialised), `value` its parse.
 */
export type JsonBody = RawJson;

/** The JSON content type with a charset, for bodies built as strings. */
export const JSON_TYPE = 'application/json; charset=utf-8';
