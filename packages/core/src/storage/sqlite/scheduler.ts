// The scheduling of a single-connection store: a serial lock for the work that awaits, and a
// batcher that hands over what arrives during one turn of the event loop. Neither knows what the
// work is.

/**
 * Serialises the async critical sections of a single-connection store. `better-sqlite3` runs
 * statements synchronously, so ordinary operations cannot interleave; only a transaction that
 * awaits (a merge whose app-provided rule is async) could let another request's statements run
 * inside it. Such transactions run through the gate, and while one is open every other operation
 * queues behind it. When the gate is idle, operations run immediately with no promise overhead.
 */
export class Gate {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  get idle(): boolean {
    return this.#pending === 0;
  }

  run<T>(fn: () => T | Promise<T>): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(fn);
    this.#tail = result.then(
      () => this.#pending--,
      () => this.#pending--,
    );
    return result;
  }
}

/**
 * Collects what arrives during one turn of the event loop and hands it over in one piece in the
 * next check phase (`setImmediate`): what group commit and group reads are built on.
 */
export class TurnBatch<T> {
  #items: T[] = [];
  #scheduled = false;
  readonly #handle: (items: T[]) => void;

  constructor(handle: (items: T[]) => void) {
    this.#handle = handle;
  }

  add(item: T): void {
    this.#items.push(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Hands over what is pending now; `close()` calls it so that nothing is left behind. */
  readonly flush = (): void => {
    this.#scheduled = false;
    const items = this.#items;
    if (items.length === 0) return;
    this.#items = [];
    this.#handle(items);
  };
}
