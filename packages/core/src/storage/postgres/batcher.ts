/**
 * Hands queued work over in groups, with at most `maxInFlight` groups running at once. While
 * every slot is busy, new work waits and joins the next group: the busier the store, the larger
 * the groups, so that a commit's flush or a statement's round trip is shared by more requests.
 * A lone request under no load starts on the next turn of the event loop, in a group of its
 * own. Knows nothing of guests.
 */
export class Batcher<T> {
  #queue: T[] = [];
  #inFlight = 0;
  #scheduled = false;
  #idle: (() => void)[] = [];
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  /** Runs one group; it settles each item itself and never rejects. */
  readonly #run: (items: T[]) => Promise<void>;

  constructor(maxInFlight: number, maxBatch: number, run: (items: T[]) => Promise<void>) {
    this.#maxInFlight = maxInFlight;
    this.#maxBatch = maxBatch;
    this.#run = run;
  }

  add(item: T): void {
    this.#queue.push(item);
    this.#schedule();
  }

  /** Resolves once nothing is queued or running (before a close). */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight) return;
    this.#scheduled = true;
    setImmediate(this.#drain);
  }

  readonly #drain = (): void => {
    this.#scheduled = false;
    while (this.#queue.length > 0 && this.#inFlight < this.#maxInFlight) {
      const items = this.#queue.splice(0, this.#maxBatch);
      this.#inFlight++;
      void this.#run(items).finally(this.#done);
    }
  };

  readonly #done = (): void => {
    this.#inFlight--;
    if (this.#queue.length > 0) {
      this.#schedule();
    } else if (this.#inFlight === 0) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const resolve of waiting) resolve();
    }
  };
}
