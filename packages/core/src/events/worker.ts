import type { ClaimedEvent, EventOutbox, EventSettlement } from '../storage/types.js';
import { type PostOutcome, postJson } from './network.js';
import type { CheckedEvents } from './options.js';
import { signDelivery } from './signature.js';
import type { GuestmodeEvent } from './types.js';

/** One place an event goes: a webhook endpoint or the app's `onEvent`. */
interface Consumer {
  readonly id: string;
  takes(type: string): boolean;
  send(event: ClaimedEvent): Promise<PostOutcome>;
}

const CLAIM_BATCH = 32;
/** Batches per round, so one round ends even while events keep arriving. */
const MAX_BATCHES = 16;
const PRUNE_EVERY_MS = 3_600_000;

/**
 * The delivery worker: claims due events from the outbox, hands each to every consumer that has
 * not taken it yet, and settles it (delivered, retried later with backoff and jitter, or dead
 * past the give-up horizon). The outbox hands out one event per subject at a time, so a guest's
 * events arrive in order. Its timer never keeps the process alive.
 */
export class EventWorker {
  readonly #outbox: EventOutbox;
  readonly #events: CheckedEvents;
  readonly #consumers: readonly Consumer[];
  readonly #clock: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #prunedAt = 0;

  constructor(outbox: EventOutbox, events: CheckedEvents, clock: () => number = Date.now) {
    this.#outbox = outbox;
    this.#events = events;
    this.#clock = clock;
    this.#consumers = consumersOf(events);
  }

  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => this.wake(), this.#events.delivery.intervalMs);
    this.#timer.unref();
    // The first round waits for the claims of a killed predecessor to be voided (SQLite).
    this.#running = Promise.resolve(this.#outbox.releaseClaims?.())
      .catch((error: unknown) => this.#events.delivery.onError(error))
      .then(() => this.#loop())
      .finally(() => {
        this.#running = undefined;
      });
  }

  /** Runs a round soon (an event was just committed); a running round is followed by another. */
  wake(): void {
    if (this.#stopped || !this.#timer) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.runRound();
      } catch (error) {
        this.#events.delivery.onError(error);
      }
    } while (this.#again && !this.#stopped);
  }

  /** One round: due events claimed and attempted, batch after batch; answers how many. */
  async runRound(): Promise<number> {
    let attempted = 0;
    for (let batch = 0; batch < MAX_BATCHES && !this.#stopped; batch++) {
      const now = this.#clock();
      const claimed = await this.#outbox.claim(
        now,
        now + this.#events.delivery.leaseMs,
        CLAIM_BATCH,
      );
      await Promise.all(claimed.map((event) => this.#attempt(event)));
      attempted += claimed.length;
      // A delivered event makes the next one of its guest due: claim again until nothing is.
      if (claimed.length === 0) break;
    }
    const now = this.#clock();
    if (now - this.#prunedAt >= PRUNE_EVERY_MS) {
      this.#prunedAt = now;
      await this.#outbox.prune(now - this.#events.delivery.retainMs, 10_000);
    }
    return attempted;
  }

  async #attempt(event: ClaimedEvent): Promise<void> {
    const pending = this.#consumers.filter(
      (c) => c.takes(event.type) && !event.done.includes(c.id),
    );
    const outcomes = await Promise.all(pending.map((c) => c.send(event)));
    const done = [...event.done];
    const failures: string[] = [];
    outcomes.forEach((outcome, i) => {
      if (outcome.ok) done.push(pending[i]!.id);
      else failures.push(`${pending[i]!.id}: ${outcome.detail}`);
    });
    const now = this.#clock();
    const attempts = event.attempts + 1;
    const { giveUpMs } = this.#events.delivery;
    const settlement: EventSettlement =
      failures.length === 0
        ? {
            state: 'delivered',
            attempts,
            nextAttemptAt: now,
            done,
            lastError: null,
            settledAt: now,
          }
        : {
            state: now - event.createdAt >= giveUpMs ? 'dead' : 'pending',
            attempts,
            nextAttemptAt: now + this.#backoff(attempts),
            done,
            lastError: failures.join('; ').slice(0, 1000),
            settledAt: now,
          };
    await this.#outbox.settle(event.id, event.claim, settlement);
  }

  /** Doubling from `retryBaseMs` up to `retryMaxMs`, each delay drawn from its upper half. */
  #backoff(attempts: number): number {
    const { retryBaseMs, retryMaxMs } = this.#events.delivery;
    const full = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(attempts - 1, 30));
    return Math.ceil(full / 2 + Math.random() * (full / 2));
  }

  /** Stops the timer and waits for the round in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }
}

function consumersOf(events: CheckedEvents): Consumer[] {
  const { delivery } = events;
  const consumers: Consumer[] = events.endpoints.map((endpoint) => ({
    id: endpoint.id,
    takes: (type) => endpoint.types.has(type as never),
    send: (event) =>
      postJson(
        endpoint.url,
        signDelivery(endpoint.secrets, event.id, Math.floor(Date.now() / 1000), event.payload),
        event.payload,
        delivery,
      ),
  }));
  const { onEvent } = events;
  if (onEvent) {
    consumers.push({
      id: 'onEvent',
      takes: (type) => events.types.has(type as never),
      send: async (event) => {
        const body = JSON.parse(event.payload) as Omit<GuestmodeEvent, 'id'>;
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            onEvent({ id: event.id, ...body } as GuestmodeEvent),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('timed out')), delivery.timeoutMs);
            }),
          ]);
          return { ok: true, detail: 'ok' };
        } catch (error) {
          return { ok: false, detail: `threw ${(error as Error)?.name ?? 'a value'}` };
        } finally {
          clearTimeout(timer);
        }
      },
    });
  }
  return consumers;
}
