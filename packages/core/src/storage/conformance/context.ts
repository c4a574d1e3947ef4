import assert from 'node:assert/strict';
import type { GuestmodeOptions } from '../../engine/types.js';
import type { Guestmode } from '../../engine.js';
import { GuestmodeError } from '../../errors.js';
import type { GuestStorage } from '../types.js';

export const DAY = 86_400_000;

export type Line = { id: string; quantity: number; title?: string };

/** What every part of the suite shares: the store under test, a clock, engines on both. */
export interface SuiteContext {
  readonly storage: GuestStorage;
  /** The engines' clock, epoch ms; tests move it. */
  clock: number;
  /** An engine on the store with the suite's merge rules, closed with the suite. */
  engine(options?: Partial<GuestmodeOptions>): Guestmode;
  /** A user id no other test uses. */
  newUser(): string;
}

export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof GuestmodeError, `expected a GuestmodeError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.ok(error.status < 500 || code.endsWith('_unavailable'));
    return true;
  });
}
