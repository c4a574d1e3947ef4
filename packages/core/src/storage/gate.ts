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
