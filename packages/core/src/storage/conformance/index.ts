/**
 * The conformance suite every storage adapter passes, run through the engine so that it checks
 * what users rely on (credentials, limits, expiry, exactly-once merges), not table layouts.
 *
 * @example
 * ```ts
 * import { runStorageConformance } from '@guestmode/core/conformance';
 * runStorageConformance('my adapter', async () => openMyStorage());
 * ```
 */
import { after, before, describe } from 'node:test';
import type { GuestmodeOptions } from '../../engine/types.js';
import { createGuestmode } from '../../engine.js';
import type { GuestStorage } from '../types.js';
import type { SuiteContext } from './context.js';
import { dataRightsTests } from './data-rights.js';
import { eventTests } from './events.js';
import { groupTests } from './groups.js';
import { guestTests } from './guests.js';
import { mergeTests } from './merge.js';

export function runStorageConformance(
  name: string,
  openStorage: () => Promise<GuestStorage>,
): void {
  describe(`storage conformance: ${name}`, () => {
    let storage: GuestStorage | undefined;
    let userSeq = 0;
    const ctx: SuiteContext = {
      get storage() {
        if (storage === undefined) throw new TypeError('the storage is opened in before()');
        return storage;
      },
      clock: Date.UTC(2026, 10, 22),
      engine(options: Partial<GuestmodeOptions> = {}) {
        return createGuestmode({
          storage: ctx.storage,
          now: () => ctx.clock,
          mergeRules: {
            cart: 'sum-by-key',
            drafts: 'transfer',
            theme: 'user-wins',
            'note:*': 'newest-wins',
          },
          ...options,
        });
      },
      newUser: () =>
        `user-${name.replace(/\W/g, '')}-${++userSeq}-${Math.random().toString(36).slice(2)}`,
    };

    before(async () => {
      storage = await openStorage();
      await storage.migrate(); // twice: migrations are idempotent
    });
    after(async () => {
      await storage?.close();
    });

    guestTests(ctx);
    groupTests(ctx);
    mergeTests(ctx);
    dataRightsTests(ctx);
    eventTests(ctx);
  });
}
