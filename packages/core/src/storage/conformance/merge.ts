import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GuestmodeError } from '../../errors.js';
import type { MergeResult } from '../../merge/plan.js';
import type { MergeTransaction } from '../types.js';
import { DAY, type Line, rejectsWith, type SuiteContext } from './context.js';

/** Merges: rules, exactly once under concurrency, previews, rollbacks, limits. */
export function mergeTests(ctx: SuiteContext): void {
  const engine = ctx.engine;
  const newUser = ctx.newUser;
  describe('merge', () => {
    it('merges by rule, invalidates the credential, and the user reaches the data', async () => {
      const gm = engine();
      const userId = newUser();
      const u = { kind: 'user', id: userId } as const;
      await gm.setAttribute(u, 'cart', [
        { id: 'b1', quantity: 1, title: 'Kokoro' },
        { id: 'b2', quantity: 1 },
      ]);
      await gm.setAttribute(u, 'theme', 'dark');
      ctx.clock += 1000;
      const { token, guest } = await gm.createGuest({
        cart: [
          { id: 'b1', quantity: 2 },
          { id: 'b3', quantity: 4 },
        ],
        theme: 'light',
        drafts: [{ id: 'r1', text: 'guest review' }],
        lang: 'ja',
      });
      const preview = await gm.previewMerge({ guestToken: token, userId });
      assert.deepEqual(preview.before.user.cart, [
        { id: 'b1', quantity: 1, title: 'Kokoro' },
        { id: 'b2', quantity: 1 },
      ]);
      assert.equal((preview.after.cart as Line[]).length, 3);
      assert.equal(preview.conflicts.length, 1); // theme: the user's stays
      // A preview changes nothing.
      assert.equal((await gm.authenticateGuest(token)).guest.id, guest.id);
      assert.equal(((await gm.getAttribute(u, 'cart')) as Line[]).length, 2);

      const { result, replayed } = await gm.merge({ guestToken: token, userId });
      assert.equal(replayed, false);
      assert.equal(result.userId, userId);
      assert.equal(result.guestId, guest.id);
      const profile = await gm.getAttributes(u);
      assert.deepEqual(profile.cart, [
        { id: 'b1', quantity: 3, title: 'Kokoro' },
        { id: 'b2', quantity: 1 },
        { id: 'b3', quantity: 4 },
      ]);
      assert.equal(profile.theme, 'dark');
      assert.deepEqual(profile.drafts, [{ id: 'r1', text: 'guest review' }]);
      assert.equal(profile.lang, 'ja');
      assert.deepEqual(result.attributes, {
        cart: profile.cart,
        theme: 'dark',
        drafts: profile.drafts,
        lang: 'ja',
      });
      const cartChange = result.changes.find((c) => c.attribute === 'cart');
      assert.deepEqual(cartChange, {
        attribute: 'cart',
        rule: 'sum-by-key',
        outcome: 'combined',
        userItems: 2,
        guestItems: 2,
        resultItems: 3,
      });
      assert.deepEqual(result.conflicts, [
        { attribute: 'theme', kept: 'user', discarded: 'light' },
      ]);

      await rejectsWith(gm.authenticateGuest(token), 'guest_merged');
      assert.equal(await gm.validateGuest(token), null);
      await rejectsWith(
        gm.setAttribute({ kind: 'guest', id: guest.id }, 'cart', []),
        'guest_merged',
      );
      assert.deepEqual(await ctx.storage.readAttributes({ kind: 'guest', id: guest.id }), []);
      // Retry: the same answer, nothing applied twice.
      const retry = await gm.merge({ guestToken: token, userId });
      assert.equal(retry.replayed, true);
      assert.deepEqual(retry.result, result);
      assert.deepEqual((await gm.getAttributes(u)).cart, profile.cart);
      const previewAfter = await gm.previewMerge({ guestToken: token, userId });
      assert.equal(previewAfter.alreadyMerged, true);
      // Another user cannot take it.
      await rejectsWith(gm.merge({ guestToken: token, userId: newUser() }), 'guest_already_merged');
      // The merge record survives until the retention ends, then the guest is purged.
      assert.ok((await ctx.storage.getGuest(guest.id))?.mergedInto === userId);
    });

    it('refuses a wrong secret, an expired guest, and keeps other guests independent', async () => {
      const gm = engine({ guestTtl: '1d' });
      const userId = newUser();
      const tabA = await gm.createGuest({ cart: [{ id: 'a', quantity: 1 }] });
      const tabB = await gm.createGuest({ cart: [{ id: 'b', quantity: 1 }] });
      const forged = `${tabA.token.slice(0, tabA.token.indexOf('.') + 1)}${'A'.repeat(43)}`;
      await rejectsWith(gm.merge({ guestToken: forged, userId }), 'invalid_guest_credential');
      await rejectsWith(gm.merge({ guestToken: 'nope', userId }), 'invalid_guest_credential');
      await gm.merge({ guestToken: tabA.token, userId });
      // Tab B is still its own anonymous profile, usable and mergeable later.
      const b = await gm.authenticateGuest(tabB.token);
      await gm.setAttribute({ kind: 'guest', id: b.guest.id }, 'theme', 'sepia');
      const expiring = await gm.createGuest({ cart: [{ id: 'c', quantity: 1 }] });
      ctx.clock += 2 * DAY;
      await rejectsWith(gm.merge({ guestToken: expiring.token, userId }), 'guest_expired');
      await rejectsWith(gm.merge({ guestToken: tabB.token, userId }), 'guest_expired');
      assert.deepEqual(await gm.getAttribute({ kind: 'user', id: userId }, 'cart'), [
        { id: 'a', quantity: 1 },
      ]);
    });

    it('lets exactly one of 50 concurrent merges of one guest win; the rest replay or are refused', async () => {
      const gm = engine();
      const userId = newUser();
      await gm.setAttribute({ kind: 'user', id: userId }, 'cart', [{ id: 'x', quantity: 5 }]);
      const { token } = await gm.createGuest({
        cart: [
          { id: 'x', quantity: 2 },
          { id: 'y', quantity: 1 },
        ],
      });
      const sameUser = await Promise.all(
        Array.from({ length: 50 }, () => gm.merge({ guestToken: token, userId })),
      );
      assert.equal(sameUser.filter((r) => !r.replayed).length, 1);
      const first = sameUser[0]!.result;
      for (const r of sameUser) assert.deepEqual(r.result, first);
      assert.deepEqual(await gm.getAttribute({ kind: 'user', id: userId }, 'cart'), [
        { id: 'x', quantity: 7 },
        { id: 'y', quantity: 1 },
      ]);

      const contested = await gm.createGuest({ cart: [{ id: 'z', quantity: 3 }] });
      const users = Array.from({ length: 50 }, () => newUser());
      const outcomes = await Promise.allSettled(
        users.map((id) => gm.merge({ guestToken: contested.token, userId: id })),
      );
      const winners = outcomes.filter((o) => o.status === 'fulfilled');
      assert.equal(winners.length, 1);
      for (const o of outcomes) {
        if (o.status === 'rejected')
          assert.equal((o.reason as GuestmodeError).code, 'guest_already_merged');
      }
      const winner = (winners[0] as PromiseFulfilledResult<{ result: MergeResult }>).value.result
        .userId;
      let holders = 0;
      for (const id of users) {
        const cart = (await gm.getAttribute({ kind: 'user', id }, 'cart')) as Line[] | undefined;
        if (cart) {
          holders++;
          assert.equal(id, winner);
          assert.deepEqual(cart, [{ id: 'z', quantity: 3 }]);
        }
      }
      assert.equal(holders, 1);
    });

    it('does not lose updates when guests merge into one user concurrently with user writes', async () => {
      const gm = engine();
      const userId = newUser();
      const guests = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          gm.createGuest({ cart: [{ id: `b${i % 3}`, quantity: i + 1 }] }),
        ),
      );
      await Promise.all([
        ...guests.map((g) => gm.merge({ guestToken: g.token, userId })),
        ...Array.from({ length: 10 }, (_, i) =>
          gm.setAttribute({ kind: 'user', id: userId }, `pref${i}`, i),
        ),
      ]);
      const cart = (await gm.getAttribute({ kind: 'user', id: userId }, 'cart')) as Line[];
      const total = cart.reduce((sum, line) => sum + line.quantity, 0);
      assert.equal(total, (20 * 21) / 2);
      assert.equal(Object.keys(await gm.getAttributes({ kind: 'user', id: userId })).length, 11);
    });

    it('rolls everything back when a rule throws, and runs app rules in the same transaction', async () => {
      const appTable = 'gm_test_app_drafts';
      const exec = async (
        sql: string,
        params: unknown[],
        { dialect, handle }: MergeTransaction,
      ) => {
        if (dialect === 'sqlite') {
          const db = handle as {
            prepare(sql: string): {
              run(...a: unknown[]): unknown;
              all(...a: unknown[]): unknown[];
            };
          };
          return db
            .prepare(sql.replace(/\$\d+/g, '?'))
            [/^\s*select/i.test(sql) ? 'all' : 'run'](...params);
        }
        const client = handle as {
          query(sql: string, params: unknown[]): Promise<{ rows: unknown[] }>;
        };
        return (await client.query(sql, params)).rows;
      };
      let fail = true;
      // Rows of the app's table this user had when each rule call began: seen through the
      // merge's own transaction, so this works for every dialect.
      const rowsSeen: number[] = [];
      const gm = engine({
        mergeRules: {
          cart: 'sum-by-key',
          drafts: async ({ guest, userId, transaction }) => {
            await exec(
              `CREATE TABLE IF NOT EXISTS ${appTable} (owner text, body text)`,
              [],
              transaction,
            );
            const counted = (await exec(
              `SELECT COUNT(*) AS n FROM ${appTable} WHERE owner = $1`,
              [userId],
              transaction,
            )) as { n: number | string }[];
            rowsSeen.push(Number(counted[0]?.n));
            for (const d of guest.value as { text: string }[]) {
              await exec(
                `INSERT INTO ${appTable} (owner, body) VALUES ($1, $2)`,
                [userId, d.text],
                transaction,
              );
            }
            if (fail) throw new Error('app rule failed');
            return { value: undefined, outcome: 'removed' };
          },
        },
      });
      const userId = newUser();
      await gm.setAttribute({ kind: 'user', id: userId }, 'cart', [{ id: 'k', quantity: 1 }]);
      const { token, guest } = await gm.createGuest({
        cart: [{ id: 'k', quantity: 2 }],
        drafts: [{ text: 'one' }, { text: 'two' }],
      });
      await assert.rejects(gm.merge({ guestToken: token, userId }), /app rule failed/);
      // Nothing changed: guest active with its data, user untouched.
      const session = await gm.authenticateGuest(token);
      assert.equal(session.attributes.length, 2);
      assert.deepEqual(await gm.getAttribute({ kind: 'user', id: userId }, 'cart'), [
        { id: 'k', quantity: 1 },
      ]);

      fail = false;
      const { result } = await gm.merge({ guestToken: token, userId });
      assert.deepEqual(result.attributes, { cart: [{ id: 'k', quantity: 3 }] });
      assert.equal(result.changes.find((c) => c.attribute === 'drafts')?.outcome, 'removed');
      // The failed attempt's app rows were rolled back with it (the retry saw none).
      assert.deepEqual(rowsSeen, [0, 0]);
      const second = await gm.createGuest({ drafts: [{ text: 'three' }] });
      await gm.merge({ guestToken: second.token, userId });
      assert.deepEqual(rowsSeen, [0, 0, 2], 'the successful merge committed its app rows');
      assert.equal((await ctx.storage.getGuest(guest.id))?.mergedInto, userId);
      await rejectsWith(gm.authenticateGuest(token), 'guest_merged');
    });

    it('previews change nothing, even among merges and writes made at the same moment', async () => {
      const gm = engine();
      const userId = newUser();
      const user = { kind: 'user', id: userId } as const;
      const guests = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          gm.createGuest({ cart: [{ id: 'p', quantity: i + 1 }] }),
        ),
      );
      // Started together, so that a store which groups writes puts them in one group.
      const [preview0, merged1, preview2] = await Promise.all([
        gm.previewMerge({ guestToken: guests[0]!.token, userId }),
        gm.merge({ guestToken: guests[1]!.token, userId }),
        gm.previewMerge({ guestToken: guests[2]!.token, userId }),
        gm.setAttribute(user, 'theme', 'dark'),
        gm.setGuestAttribute(guests[3]!.token, 'theme', 'light'),
      ]);
      // Before or after the concurrent merge, depending on the store's order.
      const previewed = (preview0.after.cart as Line[])[0]?.quantity;
      assert.ok(previewed === 1 || previewed === 3, `previewed ${previewed}`);
      assert.deepEqual(merged1.result.attributes, { cart: [{ id: 'p', quantity: 2 }] });
      assert.equal(preview2.alreadyMerged, undefined);
      assert.deepEqual(await gm.getAttributes(user), {
        cart: [{ id: 'p', quantity: 2 }],
        theme: 'dark',
      });
      for (const i of [0, 2]) {
        const { guest, attributes } = await gm.authenticateGuest(guests[i]!.token);
        assert.equal((await ctx.storage.getGuest(guest.id))?.mergedInto, null);
        assert.equal(attributes.length, 1, 'the previewed guest keeps its attributes');
      }
      assert.equal(
        (await gm.getAttributes({ kind: 'guest', id: guests[3]!.guest.id })).theme,
        'light',
      );
      const stats = await gm.stats();
      const again = await gm.merge({ guestToken: guests[0]!.token, userId });
      assert.deepEqual(again.result.attributes, { cart: [{ id: 'p', quantity: 3 }] });
      assert.equal((await gm.stats()).merged, stats.merged + 1);
    });

    it('refuses a merge whose result would exceed the profile limit, changing nothing', async () => {
      const gm = engine({
        limits: { maxValueBytes: 200, maxProfileBytes: 300 },
        defaultMergeRule: 'guest-wins',
      });
      const userId = newUser();
      await gm.setAttribute({ kind: 'user', id: userId }, 'a', 'x'.repeat(150));
      const { token } = await gm.createGuest({ b: 'y'.repeat(180) });
      await rejectsWith(gm.merge({ guestToken: token, userId }), 'profile_too_large');
      assert.equal((await gm.authenticateGuest(token)).attributes.length, 1);
      const bad = await gm.createGuest({ cart: 'not a list' });
      await gm.setAttribute({ kind: 'user', id: userId }, 'cart', []);
      await rejectsWith(engine().merge({ guestToken: bad.token, userId }), 'merge_rule_failed');
    });
  });
}
