import {
  checkBoolean,
  checkDuration,
  checkFunction,
  checkInteger,
  checkObject,
  checkOneOf,
  checkUrl,
  optionError,
  optionPath,
} from '../options.js';
import { isWebhookSecret } from './signature.js';
import { EVENT_TYPES, type EventType, type GuestmodeEvent } from './types.js';

/** An endpoint after its checks: the URL parsed, the secrets as a list. */
export interface CheckedEndpoint {
  readonly id: string;
  readonly url: URL;
  readonly secrets: readonly string[];
  readonly types: ReadonlySet<EventType>;
}

export interface CheckedDelivery {
  readonly enabled: boolean;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly giveUpMs: number;
  readonly leaseMs: number;
  readonly retainMs: number;
  readonly allowPrivateNetworks: boolean;
  readonly onError: (error: unknown) => void;
}

export interface CheckedEvents {
  /** The types written to the outbox: those some consumer takes. */
  readonly types: ReadonlySet<EventType>;
  readonly onEvent: ((event: GuestmodeEvent) => void | Promise<void>) | undefined;
  readonly endpoints: readonly CheckedEndpoint[];
  readonly delivery: CheckedDelivery;
}

const DEFAULT_TYPES: readonly EventType[] = EVENT_TYPES.filter((t) => t !== 'guest.created');
const DELIVERY_KEYS = [
  'enabled',
  'intervalMs',
  'timeoutMs',
  'retryBaseMs',
  'retryMaxMs',
  'giveUpAfter',
  'leaseMs',
  'retain',
  'onError',
];
const MAX_TIMER_MS = 2_147_483_647;

function checkTypes(value: unknown, path: string): EventType[] {
  if (!Array.isArray(value)) throw optionError(path, 'must be an array of event types');
  return value.map((t, i) => checkOneOf(t, optionPath(path, i), EVENT_TYPES));
}

function checkEndpoint(value: unknown, path: string, written: ReadonlySet<EventType>) {
  const o = checkObject(value, path, ['url', 'secret', 'events', 'id']);
  const url = checkUrl(o.url, `${path}.url`);
  const secrets = Array.isArray(o.secret) ? o.secret : [o.secret];
  if (secrets.length === 0 || !secrets.every(isWebhookSecret)) {
    throw optionError(`${path}.secret`, 'must be whsec_<base64 of 16 bytes or more>, or a list');
  }
  const types = o.events === undefined ? [...written] : checkTypes(o.events, `${path}.events`);
  for (const [i, t] of types.entries()) {
    if (!written.has(t)) {
      throw optionError(
        optionPath(`${path}.events`, i),
        `${t} is off (see options.events.include)`,
      );
    }
  }
  // The default id leaves out the query, which may carry a token that must not be stored.
  const id = o.id === undefined ? url.origin + url.pathname : o.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
    throw optionError(`${path}.id`, 'must be a string of 1 to 200 characters');
  }
  return { id, url, secrets: secrets as string[], types: new Set(types) };
}

/** Checks `options.events`; `undefined` when there is no consumer (nothing is written then). */
export function checkEventsOptions(value: unknown, path: string): CheckedEvents | undefined {
  if (value === undefined) return undefined;
  const o = checkObject(value, path, [
    'onEvent',
    'webhooks',
    'include',
    'allowPrivateNetworks',
    'delivery',
  ]);
  const onEvent =
    o.onEvent === undefined
      ? undefined
      : checkFunction<NonNullable<CheckedEvents['onEvent']>>(o.onEvent, `${path}.onEvent`);
  const include = o.include === undefined ? [] : checkTypes(o.include, `${path}.include`);
  for (const [i, t] of include.entries()) {
    if (t !== 'guest.created') {
      throw optionError(optionPath(`${path}.include`, i), 'only guest.created is opt-in');
    }
  }
  const written = new Set<EventType>([...DEFAULT_TYPES, ...include]);
  if (o.webhooks !== undefined && !Array.isArray(o.webhooks)) {
    throw optionError(`${path}.webhooks`, 'must be an array of endpoints');
  }
  const endpoints = ((o.webhooks ?? []) as unknown[]).map((e, i) =>
    checkEndpoint(e, optionPath(`${path}.webhooks`, i), written),
  );
  const ids = new Set(endpoints.map((e) => e.id));
  if (ids.size !== endpoints.length) {
    throw optionError(`${path}.webhooks`, 'two endpoints have the same id (or URL)');
  }
  const d =
    o.delivery === undefined ? {} : checkObject(o.delivery, `${path}.delivery`, DELIVERY_KEYS);
  const ms = (key: string, fallback: number) =>
    d[key] === undefined
      ? fallback
      : checkInteger(d[key], `${path}.delivery.${key}`, { min: 1, max: MAX_TIMER_MS });
  const duration = (key: string, fallback: number) =>
    d[key] === undefined ? fallback : checkDuration(d[key], `${path}.delivery.${key}`);
  const delivery: CheckedDelivery = {
    enabled: d.enabled === undefined ? true : checkBoolean(d.enabled, `${path}.delivery.enabled`),
    intervalMs: ms('intervalMs', 2000),
    timeoutMs: ms('timeoutMs', 10_000),
    retryBaseMs: ms('retryBaseMs', 5000),
    retryMaxMs: ms('retryMaxMs', 3_600_000),
    giveUpMs: duration('giveUpAfter', 3 * 86_400_000),
    leaseMs: ms('leaseMs', 60_000),
    retainMs: duration('retain', 7 * 86_400_000),
    allowPrivateNetworks:
      o.allowPrivateNetworks === undefined
        ? false
        : checkBoolean(o.allowPrivateNetworks, `${path}.allowPrivateNetworks`),
    onError:
      d.onError === undefined
        ? (error) =>
            console.error(`guestmode: event delivery: ${(error as Error)?.message ?? error}`)
        : checkFunction(d.onError, `${path}.delivery.onError`),
  };
  if (delivery.leaseMs <= delivery.timeoutMs) {
    throw optionError(`${path}.delivery.leaseMs`, 'must be longer than timeoutMs');
  }
  if (!onEvent && endpoints.length === 0) return undefined;
  const types = new Set<EventType>(onEvent ? written : []);
  for (const e of endpoints) for (const t of e.types) types.add(t);
  return { types, onEvent, endpoints, delivery };
}
