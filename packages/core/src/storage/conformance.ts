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
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawJson } from '../attributes.js';
import { createGuestmode, type Guestmode, type GuestmodeOptions } from '../engine.js';
import { GuestmodeError } from '../errors.js';
import type { MergeResult } from '../merge/plan.js';
import type { GuestStorage, MergeTransaction } from './types.js';

const DAY = 86_400_000;

type Line = { id: string; quantity: number; title?: string };

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof GuestmodeError, `expected a GuestmodeError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.ok(error.status < 500 || code.endsWith('_unavailable'));
    return true;
  });
}

export function runStorageConformance(
  name: string,
  openStorage: () => Promise<GuestStorage>,
): void {
  describe(`storage conformance: ${name}`, () => {
    let storage: GuestStorage;
    let clock = Date.UTC(2026, 10, 22);
    let userSeq = 0;
    const engines: Guestmode[] = [];
    const engine = (options: Partial<GuestmodeOptions> = {}) => {
      const gm = createGuestmode({
        storage,
        now: () => clock,
        mergeRules: {
          cart: 'sum-by-key',
          drafts: 'transfer',
          theme: 'user-wins',
          'note:*': 'newest-wins',
        },
        ...options,
      });
      engines.push(gm);
      return gm;
    };
    const newUser = () =>
      `user-${name.replace(/\W/g, '')}-${++userSeq}-${Math.random().toString(36).slice(2)}`;

    before(async () => {
      storage = await openStorage();
      await storage.migrate(); // twice: migrations are idempotent
    });
    after(async () => {
      await storage.close();
    });

    describe('guests and credentials', () => {
      it('creates a guest with its first attributes and reads them back', async () => {
        const gm = engine();
        const cart: Line[] = [{ id: 'b1', quantity: 2 }];
        const { guest, token } = await gm.createGuest({ cart });
        assert.match(guest.id, /^[A-Za-z0-9_-]{22}$/);
        assert.ok(token.startsWith('gm_') && token.includes(guest.id));
        assert.equal(guest.expiresAt.getTime() - guest.createdAt.getTime(), 30 * DAY);
        const session = await gm.authenticateGuest(token);
        assert.equal(session.guest.id, guest.id);
        assert.equal(session.fresh, false);
        assert.deepEqual(
          session.attributes.map((a) => [a.name, JSON.parse(a.value)]),
          [['cart', cart]],
        );
      });

      it('refuses forged, tampered and malformed credentials', async () => {
        const gm = engine();
        const { token } = await gm.createGuest();
        const other = await gm.createGuest();
        const flip = (s: string, i: number) =>
          s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
        const candidates = [
          flip(token, token.length - 1), // secret changed
          flip(token, 5), // id changed
          `${token.slice(0, token.indexOf('.'))}.${other.token.slice(other.token.indexOf('.') + 1)}`,
          token.slice(0, -1),
          `${token}A`,
          '',
          'gm_',
          'not a token',
          token.replace('gm_', 'gx_'),
        ];
        for (const candidate of candidates) {
          await rejectsWith(gm.authenticateGuest(candidate), 'invalid_guest_credential');
          assert.equal(await gm.validateGuest(candidate), null);
        }
      });

      it('deletes a guest on request, but never a merged one or with a wrong secret', async () => {
        const gm = engine();
        const { token, guest } = await gm.createGuest({ cart: [{ id: 'a', quantity: 1 }] });
        const wrong = `${token.slice(0, token.indexOf('.') + 1)}${'A'.repeat(43)}`;
        assert.equal(await gm.deleteGuest(wrong), false);
        assert.equal(await gm.deleteGuest('nonsense'), false);
        assert.equal(await gm.deleteGuest(token), true);
        assert.equal(await storage.getGuest(guest.id), null);
        assert.deepEqual(await storage.readAttributes({ kind: 'guest', id: guest.id }), []);
        await rejectsWith(gm.authenticateGuest(token), 'invalid_guest_credential');
        assert.equal(await gm.deleteGuest(token), false);
        const merged = await gm.createGuest({ a: 1 });
        const userId = newUser();
        await gm.merge({ guestToken: merged.token, userId });
        assert.equal(await gm.deleteGuest(merged.token), false);
        assert.equal((await gm.merge({ guestToken: merged.token, userId })).replayed, true);
      });

      it('counts the funnel: created, merged, deleted and active add up', async () => {
        const gm = engine();
        const before = await gm.stats();
        const guests = await Promise.all([1, 2, 3, 4].map(() => gm.createGuest({ a: 1 })));
        await gm.merge({ guestToken: guests[0]!.token, userId: newUser() });
        await gm.deleteGuest(guests[1]!.token);
        const after = await gm.stats();
        assert.equal(after.created - before.created, 4);
        assert.equal(after.merged - before.merged, 1);
        assert.equal(after.active - before.active, 2);
        assert.equal(after.expired - before.expired, 0);
      });

      it('expires guests, slides the expiry without a write per read, and purges in batches', async () => {
        const gm = engine({ guestTtl: '10d' });
        const start = clock;
        const { token, guest } = await gm.createGuest({ theme: 'dark' });
        clock = start + 4 * DAY; // less than half used: no extension
        assert.equal((await gm.authenticateGuest(token)).fresh, false);
        clock = start + 6 * DAY; // more than half used: extended to now + ttl
        const extended = await gm.authenticateGuest(token);
        assert.equal(extended.fresh, true);
        assert.equal(extended.guest.expiresAt.getTime(), clock + 10 * DAY);
        assert.equal((await storage.getGuest(guest.id))?.expiresAt, clock + 10 * DAY);
        clock += 10 * DAY; // expired
        await rejectsWith(gm.authenticateGuest(token), 'guest_expired');
        await rejectsWith(
          gm.setAttribute({ kind: 'guest', id: guest.id }, 'x', 1),
          'guest_expired',
        );
        const expiredBefore = (await gm.stats()).expired;
        const many = await Promise.all(Array.from({ length: 25 }, () => gm.createGuest({ a: 1 })));
        clock += 31 * DAY;
        const { deleted } = await gm.purgeExpired({ batchSize: 7 });
        assert.ok(deleted >= 26, `purged ${deleted}`);
        for (const g of many.slice(0, 3)) {
          assert.equal(await storage.getGuest(g.guest.id), null);
          assert.deepEqual(await storage.readAttributes({ kind: 'guest', id: g.guest.id }), []);
        }
        await rejectsWith(gm.authenticateGuest(token), 'invalid_guest_credential');
        const stats = await gm.stats();
        assert.ok(stats.expired >= expiredBefore + 26);
        assert.ok(stats.created >= stats.active + stats.merged + stats.expired);
      });
    });

    describe('attributes', () => {
      it('gets, sets, lists and deletes attributes of guests and users', async () => {
        const gm = engine();
        const { guest } = await gm.createGuest();
        const g = { kind: 'guest', id: guest.id } as const;
        const u = { kind: 'user', id: newUser() } as const;
        for (const p of [g, u]) {
          await gm.setAttribute(p, 'theme', 'dark');
          await gm.setAttribute(p, 'settings', { lang: 'ja', n: [1, 2, { deep: null }] });
          await gm.setAttribute(p, 'theme', 'light');
          assert.deepEqual(await gm.getAttributes(p), {
            settings: { lang: 'ja', n: [1, 2, { deep: null }] },
            theme: 'light',
          });
          assert.equal(await gm.getAttribute(p, 'theme'), 'light');
          assert.equal(await gm.getAttribute(p, 'missing'), undefined);
          assert.equal(await gm.deleteAttribute(p, 'theme'), true);
          assert.equal(await gm.deleteAttribute(p, 'theme'), false);
          assert.deepEqual(Object.keys(await gm.getAttributes(p)), ['settings']);
        }
      });

      it('refuses bad names, oversized values and profiles, changing nothing', async () => {
        const gm = engine({
          limits: { maxValueBytes: 100, maxProfileBytes: 200, maxAttributes: 3 },
        });
        const { guest } = await gm.createGuest({ a: 'x'.repeat(50) });
        const g = { kind: 'guest', id: guest.id } as const;
        for (const bad of ['', ' a', 'a/b', 'a b', '../x', 'x'.repeat(129), 'é']) {
          await rejectsWith(gm.setAttribute(g, bad, 1), 'invalid_attribute_name');
        }
        await rejectsWith(gm.setAttribute(g, 'big', 'x'.repeat(101)), 'attribute_too_large');
        await rejectsWith(gm.setAttribute(g, 'big', 'é'.repeat(60)), 'attribute_too_large');
        await gm.setAttribute(g, 'b', 'y'.repeat(80));
        await rejectsWith(gm.setAttribute(g, 'c', 'z'.repeat(98)), 'profile_too_large');
        await gm.setAttribute(g, 'c', 1);
        await rejectsWith(gm.setAttribute(g, 'd', 1), 'too_many_attributes');
        await gm.setAttribute(g, 'c', 2); // replacing does not count twice
        let deep: unknown = 1;
        for (let i = 0; i < 70; i++) deep = [deep];
        await rejectsWith(engine().setAttribute(g, 'deep', deep), 'invalid_attribute_value');
        await rejectsWith(gm.setAttribute(g, 'u', undefined), 'invalid_attribute_value');
        await rejectsWith(
          gm.setAttribute(g, 'c', RawJson.parse(`[[[${'1'.repeat(120)}]]]`)),
          'attribute_too_large',
        );
        assert.deepEqual(Object.keys(await gm.getAttributes(g)).sort(), ['a', 'b', 'c']);
        assert.equal(await gm.getAttribute(g, 'c'), 2);
        await rejectsWith(gm.createGuest({ a: 'x'.repeat(101) }), 'attribute_too_large');
        await rejectsWith(gm.createGuest({ a: 1, b: 2, c: 3, d: 4 }), 'too_many_attributes');
      });

      it('writes with a credential in one step: checks it, slides the expiry, refuses bad ones', async () => {
        const gm = engine({ guestTtl: '10d', limits: { maxAttributes: 2 } });
        const start = clock;
        const { token, guest } = await gm.createGuest({ a: 1 });
        const written = await gm.setGuestAttribute(token, 'cart', [{ id: 'x', quantity: 1 }]);
        assert.equal(written.guest.id, guest.id);
        assert.equal(written.fresh, false);
        assert.deepEqual(await gm.getAttribute({ kind: 'guest', id: guest.id }, 'cart'), [
          { id: 'x', quantity: 1 },
        ]);
        const wrong = `${token.slice(0, token.indexOf('.') + 1)}${'A'.repeat(43)}`;
        await rejectsWith(
          gm.setGuestAttribute(wrong, 'b', RawJson.parse('2')),
          'invalid_guest_credential',
        );
        await rejectsWith(
          gm.setGuestAttribute('gm_nope', 'b', RawJson.parse('2')),
          'invalid_guest_credential',
        );
        await rejectsWith(
          gm.setGuestAttribute(token, 'b', RawJson.parse('2')),
          'too_many_attributes',
        );
        assert.deepEqual(Object.keys(await gm.getAttributes({ kind: 'guest', id: guest.id })), [
          'a',
          'cart',
        ]);
        clock = start + 6 * DAY; // past half its life: the write extends it
        const slid = await gm.setGuestAttribute(token, 'a', RawJson.parse('3'));
        assert.equal(slid.fresh, true);
        assert.equal(slid.guest.expiresAt.getTime(), clock + 10 * DAY);
        assert.equal((await storage.getGuest(guest.id))?.expiresAt, clock + 10 * DAY);
        await gm.merge({ guestToken: token, userId: newUser() });
        await rejectsWith(gm.setGuestAttribute(token, 'a', RawJson.parse('4')), 'guest_merged');
        const other = await gm.createGuest();
        clock += 11 * DAY;
        await rejectsWith(
          gm.setGuestAttribute(other.token, 'a', RawJson.parse('4')),
          'guest_expired',
        );
      });

      it('refuses writes to a guest that does not exist', async () => {
        const gm = engine();
        await rejectsWith(
          gm.setAttribute({ kind: 'guest', id: 'A'.repeat(22) }, 'a', 1),
          'invalid_guest_credential',
        );
      });
    });

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
        clock += 1000;
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
        assert.deepEqual(await storage.readAttributes({ kind: 'guest', id: guest.id }), []);
        // Retry: the same answer, nothing applied twice.
        const retry = await gm.merge({ guestToken: token, userId });
        assert.equal(retry.replayed, true);
        assert.deepEqual(retry.result, result);
        assert.deepEqual((await gm.getAttributes(u)).cart, profile.cart);
        const previewAfter = await gm.previewMerge({ guestToken: token, userId });
        assert.equal(previewAfter.alreadyMerged, true);
        // Another user cannot take it.
        await rejectsWith(
          gm.merge({ guestToken: token, userId: newUser() }),
          'guest_already_merged',
        );
        // The merge record survives until the retention ends, then the guest is purged.
        assert.ok((await storage.getGuest(guest.id))?.mergedInto === userId);
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
        clock += 2 * DAY;
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
        assert.equal((await storage.getGuest(guest.id))?.mergedInto, userId);
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
          assert.equal((await storage.getGuest(guest.id))?.mergedInto, null);
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
  });
}
