import { unavailable } from './driver-errors.js';
import { type Gate, TurnBatch } from './scheduler.js';

/** The transaction statements group commit runs, prepared once. */
export interface TransactionStatements {
  readonly begin: { run(): unknown };
  readonly commit: { run(): unknown };
  readonly rollback: { run(): unknown };
  readonly savepoint: { run(): unknown };
  readonly release: { run(): unknown };
  readonly rollbackTo: { run(): unknown };
}

/** What the owner of the connection does around each group's transaction. */
export interface GroupCommitHooks {
  /** Before the transaction begins. */
  opening(): void;
  /** Inside the transaction, after the last write and before COMMIT. */
  committing(): void;
  /** After the transaction ended; `committed` is false when nothing of it was kept. */
  closed(committed: boolean): void;
}

interface QueuedWrite {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: boolean; readonly value: unknown };

/**
 * Group commit. A commit costs far more than a statement inside a transaction, so the writes
 * that arrive during one turn of the event loop run in one transaction, each inside its own
 * savepoint: a write that fails (a limit, a merged guest) rolls back alone and rejects alone.
 * Every promise settles only after COMMIT, so an acknowledged write is exactly as durable as with
 * one transaction per write.
 */
export class GroupCommit {
  readonly #statements: () => TransactionStatements;
  readonly #hooks: GroupCommitHooks;
  readonly #inTransaction: () => boolean;
  readonly #writes: TurnBatch<QueuedWrite>;

  /**
   * @param statements the transaction statements, asked for once per group (they are prepared
   *   after the schema is migrated, later than this object is made).
   * @param inTransaction whether the connection is inside a transaction (after a failure).
   */
  constructor(
    gate: Gate,
    statements: () => TransactionStatements,
    inTransaction: () => boolean,
    hooks: GroupCommitHooks,
  ) {
    this.#statements = statements;
    this.#inTransaction = inTransaction;
    this.#hooks = hooks;
    this.#writes = new TurnBatch<QueuedWrite>((batch) => {
      if (gate.idle) this.#commit(batch);
      else void gate.run(() => this.#commit(batch));
    });
  }

  /**
   * Queues `run` for the next group. It runs inside the group's transaction; when it throws, its
   * own changes are rolled back and the rest of the group is unaffected.
   */
  add<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#writes.add({ run, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /** Runs what is queued now (before a close). */
  flush(): void {
    this.#writes.flush();
  }

  #commit(batch: QueuedWrite[]): void {
    let tx: TransactionStatements;
    try {
      tx = this.#statements();
    } catch (error) {
      for (const op of batch) op.reject(error);
      return;
    }
    this.#hooks.opening();
    let committed = false;
    try {
      committed =
        batch.length === 1 ? this.#commitOne(tx, batch[0]!) : this.#commitGroup(tx, batch);
    } finally {
      this.#hooks.closed(committed);
    }
  }

  /** One write alone needs no savepoint: its transaction is its own. */
  #commitOne(tx: TransactionStatements, op: QueuedWrite): boolean {
    let value: unknown;
    try {
      tx.begin.run();
      value = op.run();
      this.#hooks.committing();
      tx.commit.run();
    } catch (error) {
      if (this.#inTransaction()) tx.rollback.run();
      op.reject(unavailable(error));
      return false;
    }
    op.resolve(value);
    return true;
  }

  #commitGroup(tx: TransactionStatements, batch: QueuedWrite[]): boolean {
    const outcomes: Outcome[] = [];
    try {
      tx.begin.run();
      for (const op of batch) outcomes.push(this.#inSavepoint(tx, op));
      this.#hooks.committing();
      tx.commit.run();
    } catch (error) {
      // BEGIN or COMMIT failed (locked past busy_timeout, disk full): nothing was written.
      if (this.#inTransaction()) tx.rollback.run();
      for (const op of batch) op.reject(unavailable(error));
      return false;
    }
    batch.forEach((op, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) op.resolve(outcome.value);
      else op.reject(unavailable(outcome.value));
    });
    return true;
  }

  #inSavepoint(tx: TransactionStatements, op: QueuedWrite): Outcome {
    tx.savepoint.run();
    let outcome: Outcome;
    try {
      outcome = { ok: true, value: op.run() };
    } catch (error) {
      tx.rollbackTo.run();
      outcome = { ok: false, value: error };
    }
    tx.release.run();
    return outcome;
  }
}
