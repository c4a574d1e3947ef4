import { buildEvent } from '../events/event.js';
import type { CheckedEvents } from '../events/options.js';
import type { EventData, EventType } from '../events/types.js';
import { EventWorker } from '../events/worker.js';
import type { MergeResult } from '../merge/plan.js';
import type { GuestStorage, MergePlan, NewEvent } from '../storage/types.js';

/**
 * The engine's side of events: which types are written (only those a consumer takes; with no
 * consumer the engine has no `EngineEvents` and no operation writes anything), the rows the
 * operations hand to the store, and the worker, woken when an operation has committed one.
 */
export class EngineEvents {
  readonly #types: ReadonlySet<EventType>;
  readonly worker: EventWorker;
  readonly #autostart: boolean;

  constructor(storage: GuestStorage, checked: CheckedEvents, now: () => number) {
    this.#types = checked.types;
    this.worker = new EventWorker(storage.outbox, checked, now);
    this.#autostart = checked.delivery.enabled;
  }

  /** Starts the worker's timer, unless delivery is left to the app (`deliverEvents()`). */
  start(): void {
    if (this.#autostart) this.worker.start();
  }

  /** The event to write with a change, or `undefined` when no consumer takes its type. */
  event<T extends EventType>(
    type: T,
    subject: string,
    data: EventData[T],
    now: number,
  ): NewEvent | undefined {
    return this.#types.has(type) ? buildEvent(type, subject, data, now) : undefined;
  }

  /** The factory the purge calls for each guest it deletes that expired unmerged. */
  expired(now: number): ((guestId: string) => NewEvent) | undefined {
    if (!this.#types.has('guest.expired')) return undefined;
    return (guestId) => buildEvent('guest.expired', `g:${guestId}`, { guestId }, now);
  }

  /** Adds the `guest.merged` event to a merge plan (inside the merge's transaction). */
  withMergeEvent(plan: MergePlan, now: number): MergePlan {
    if (!this.#types.has('guest.merged')) return plan;
    const result = JSON.parse(plan.result) as MergeResult;
    const event = buildEvent(
      'guest.merged',
      `g:${result.guestId}`,
      {
        guestId: result.guestId,
        userId: result.userId,
        mergedAt: result.mergedAt,
        changes: result.changes,
        conflicts: result.conflicts.length,
      },
      now,
    );
    return { ...plan, event };
  }

  /** An operation committed an event: deliver it soon rather than at the next poll. */
  committed(event: unknown): void {
    if (event !== undefined) this.worker.wake();
  }
}
