import type { MergeChange } from '../merge/plan.js';

/** Every lifecycle event. `guest.created` is written only when asked for (`include`). */
export const EVENT_TYPES = [
  'guest.created',
  'guest.merged',
  'guest.expired',
  'guest.deleted',
  'user.deleted',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** The `data` of each event type (payload version 1). */
export interface EventData {
  'guest.created': { readonly guestId: string; readonly expiresAt: string };
  /** One event per merge that committed; a retry that replays it writes none. */
  'guest.merged': {
    readonly guestId: string;
    readonly userId: string;
    readonly mergedAt: string;
    /** What happened to each attribute the guest had. */
    readonly changes: readonly MergeChange[];
    /** How many values lost to another version (listed in the merge result). */
    readonly conflicts: number;
  };
  /** The guest was purged after it expired without being merged. */
  'guest.expired': { readonly guestId: string };
  /** `by: "guest"`: the guest deleted itself; `"operator"`: deleted by id. */
  'guest.deleted': { readonly guestId: string; readonly by: 'guest' | 'operator' };
  /** The user's profile and merge records were erased (`deleteUser`). */
  'user.deleted': { readonly userId: string };
}

/**
 * An event as delivered: the webhook body is `{ type, timestamp, data }` (the Standard Webhooks
 * shape), and `id` travels in the `webhook-id` header; `onEvent` gets all four.
 */
export type GuestmodeEvent = {
  [T in EventType]: {
    readonly id: string;
    readonly type: T;
    /** ISO 8601, when the change committed. */
    readonly timestamp: string;
    readonly data: EventData[T];
  };
}[EventType];

/** One webhook endpoint. */
export interface WebhookEndpoint {
  readonly url: string;
  /** `whsec_<base64>`; several during a rotation (every one signs each delivery). */
  readonly secret: string | readonly string[];
  /** Only these event types (default: every type written). */
  readonly events?: readonly EventType[];
  /** How the endpoint is named in the outbox (default: its URL). */
  readonly id?: string;
}

export interface EventsOptions {
  /**
   * Called for each event after its change committed, from the outbox: at least once (again
   * when it throws, with the webhooks' backoff), in order per guest. The hook to rely on for
   * work that must follow a merge.
   */
  readonly onEvent?: (event: GuestmodeEvent) => void | Promise<void>;
  readonly webhooks?: readonly WebhookEndpoint[];
  /** Opt-in types: `['guest.created']` (off by default: guest creation is the hot path). */
  readonly include?: readonly 'guest.created'[];
  /**
   * Deliver to loopback, private, link-local and other internal addresses (default `false`:
   * the resolved address of every endpoint is checked, so a webhook cannot reach inside).
   */
  readonly allowPrivateNetworks?: boolean;
  readonly delivery?: {
    /** Run the delivery worker in this process (default `true`). */
    readonly enabled?: boolean;
    /** How often the outbox is polled for due events (default 2000 ms). */
    readonly intervalMs?: number;
    /** Per attempt (default 10000 ms). */
    readonly timeoutMs?: number;
    /** First retry delay, doubled per attempt, with jitter (default 5000 ms). */
    readonly retryBaseMs?: number;
    /** Longest retry delay (default one hour). */
    readonly retryMaxMs?: number;
    /** After this long an event that could not be delivered is `dead` (default `3d`). */
    readonly giveUpAfter?: string | number;
    /** How long a claimed event is reserved for this process (default 60000 ms). */
    readonly leaseMs?: number;
    /** Delivered and dead events are deleted after this long (default `7d`). */
    readonly retain?: string | number;
    /** Called with errors of the worker itself (not of deliveries). Default: stderr. */
    readonly onError?: (error: unknown) => void;
  };
}
