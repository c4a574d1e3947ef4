import type { EventState, StoredEvent } from '../storage/types.js';
import type { EngineContext } from './context.js';

/** An outbox event as an operator sees it. */
export interface EventRecord {
  readonly id: string;
  readonly type: string;
  readonly state: EventState;
  readonly createdAt: string;
  readonly attempts: number;
  /** When the next attempt is due (pending events). */
  readonly nextAttemptAt: string | null;
  /** The consumers that took it: endpoint ids, `onEvent`. */
  readonly deliveredTo: readonly string[];
  readonly lastError: string | null;
  /** The body as delivered: `{ type, timestamp, data }`. */
  readonly payload: unknown;
}

const STATES: readonly EventState[] = ['pending', 'delivered', 'dead'];

function toRecord(event: StoredEvent): EventRecord {
  return {
    id: event.id,
    type: event.type,
    state: event.state,
    createdAt: new Date(event.createdAt).toISOString(),
    attempts: event.attempts,
    nextAttemptAt: event.state === 'pending' ? new Date(event.nextAttemptAt).toISOString() : null,
    deliveredTo: event.done,
    lastError: event.lastError,
    payload: JSON.parse(event.payload),
  };
}

export async function listEvents(
  ctx: EngineContext,
  options: { readonly state?: EventState; readonly after?: string; readonly limit?: number },
): Promise<EventRecord[]> {
  const limit = options.limit ?? 50;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
    throw new TypeError('limit must be an integer from 1 to 1000');
  }
  if (options.state !== undefined && !STATES.includes(options.state)) {
    throw new TypeError('state must be pending, delivered or dead');
  }
  const events = await ctx.storage.outbox.list(options.state, options.after ?? '', limit);
  return events.map(toRecord);
}

export async function resendEvent(ctx: EngineContext, id: string): Promise<boolean> {
  if (typeof id !== 'string' || id.length === 0 || id.length > 64) {
    throw new TypeError('id must be an event id (evt_…)');
  }
  const found = await ctx.storage.outbox.resend(id, ctx.now());
  if (found) ctx.events?.worker.wake();
  return found;
}
