/**
 * The sign-in port's records (the sign-in start, the merge waiting for a decision, the merge to
 * retry after an outage), written once over a store that keeps a value by name: a server-side
 * session (Express) or sealed cookies (`cookie-records.ts`, Next).
 */
import type { SignInPort } from './flow.js';
import type { RecoveryRecord } from './recovery.js';
import type { PendingMergeRecord, SignInStart } from './sign-in.js';

/** The records a port keeps. */
export type RecordName = 'start' | 'pending' | 'recovery';

/** Where a port keeps its records: one value per name, loaded, saved and cleared. */
export interface RecordStore {
  /** The value saved under `name`, or `undefined` (absent, unreadable or expired). */
  load(name: RecordName): unknown;
  save(name: RecordName, value: unknown): void;
  clear(name: RecordName): void;
}

/** The port's record methods. */
export type PortRecords = Pick<
  SignInPort,
  | 'loadStart'
  | 'saveStart'
  | 'clearStart'
  | 'loadPending'
  | 'savePending'
  | 'clearPending'
  | 'loadRecovery'
  | 'saveRecovery'
  | 'clearRecovery'
>;

/** The port's load, save and clear of each record over `store`. */
export function portRecords(store: RecordStore): PortRecords {
  return {
    loadStart: () => store.load('start') as SignInStart | undefined,
    saveStart: (record) => store.save('start', record),
    clearStart: () => store.clear('start'),
    loadPending: () => store.load('pending') as PendingMergeRecord | undefined,
    savePending: (record) => store.save('pending', record),
    clearPending: () => store.clear('pending'),
    loadRecovery: () => store.load('recovery') as RecoveryRecord | undefined,
    saveRecovery: (record) => store.save('recovery', record),
    clearRecovery: () => store.clear('recovery'),
  };
}

/** The session keys of the records (beside the Logto SDK's own keys). */
const SESSION_KEYS: Readonly<Record<RecordName, string>> = {
  start: 'guestmode:sign-in',
  pending: 'guestmode:pending',
  recovery: 'guestmode:recover',
};

/**
 * The records as JSON strings in a server-side session (the SDK's session storage holds
 * strings). `session` gives the session's data, or throws the adapter's advice when there is
 * none; it is asked on every use.
 *
 * @example
 * ```ts
 * const records = sessionRecords(() => req.session);
 * records.savePending(record);
 * ```
 */
export function sessionRecords(session: () => Record<string, unknown>): PortRecords {
  return portRecords({
    load(name) {
      const raw = session()[SESSION_KEYS[name]];
      if (typeof raw !== 'string') return undefined;
      try {
        return JSON.parse(raw);
      } catch {
        return undefined;
      }
    },
    save(name, value) {
      session()[SESSION_KEYS[name]] = JSON.stringify(value);
    },
    clear(name) {
      delete session()[SESSION_KEYS[name]];
    },
  });
}
