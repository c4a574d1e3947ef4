import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { RawJson } from '../../attributes.js';
import type { GuestmodeError } from '../../errors.js';
import { DAY, rejectsWith, type SuiteContext } from './context.js';

/**
 * Writes made at the same moment, which a store may run in one shared transaction: each gets
 * the answer it would get alone, and the funnel's totals stay exact.
 */
export function groupTests(ctx: SuiteContext): void {
  const engine = ctx.engine;
  describe('concurrent writes', () => {
    it('a refused write among concurrent ones fails alone, and the rest are kept', async () => {
      const gm = engine({ limits: { maxAttributes: 3 } });
      const guests = await Promise.all(Array.from({ length: 20 }, () => gm.createGuest({ a: 1 })));
      const merged = guests[0]!;
      await gm.merge({ guestToken: merged.token, userId: ctx.newUser() });
      const wrong = `${guests[1]!.token.slice(0, guests[1]!.token.indexOf('.') + 1)}${'A'.repeat(43)}`;
      const outcomes = await Promise.allSettled([
        ...guests.slice(2).map((g, i) => gm.setGuestAttribute(g.token, 'b', RawJson.parse(`${i}`))),
        gm.setGuestAttribute(merged.token, 'b', RawJson.parse('1')),
        gm.setGuestAttribute(wrong, 'b', RawJson.parse('1')),
        // The third and fourth new names of one guest in one moment: the fourth is one too many.
        gm.setGuestAttribute(guests[2]!.token, 'c', RawJson.parse('1')),
        gm.setGuestAttribute(guests[2]!.token, 'd', RawJson.parse('1')),
        // The same attribute twice at once: the later write wins.
        gm.setGuestAttribute(guests[3]!.token, 'b', RawJson.parse('"first"')),
        gm.setGuestAttribute(guests[3]!.token, 'b', RawJson.parse('"second"')),
      ]);
      const codes = outcomes.map((o) =>
        o.status === 'fulfilled' ? 'ok' : (o.reason as GuestmodeError).code,
      );
      assert.deepEqual(codes, [
        ...guests.slice(2).map(() => 'ok'),
        'guest_merged',
        'invalid_guest_credential',
        'ok',
        'too_many_attributes',
        'ok',
        'ok',
      ]);
      for (const [i, g] of guests.slice(4).entries()) {
        assert.equal(await gm.getAttribute({ kind: 'guest', id: g.guest.id }, 'b'), i + 2);
      }
      const third = await gm.getAttributes({ kind: 'guest', id: guests[2]!.guest.id });
      assert.deepEqual(Object.keys(third).sort(), ['a', 'b', 'c']);
      assert.equal(
        await gm.getAttribute({ kind: 'guest', id: guests[3]!.guest.id }, 'b'),
        'second',
      );
    });

    it('a create that the database refuses fails alone among concurrent creates', async () => {
      const gm = engine();
      const { guest } = await gm.createGuest({ a: 1 });
      const row = (i: number) => ({
        id: `${guest.id.slice(0, 8)}${randomBytes(12).toString('base64url').slice(0, 13)}${i % 10}`,
        secretHash: randomBytes(32),
        createdAt: ctx.clock,
        expiresAt: ctx.clock + DAY,
      });
      const attribute = { name: 'a', value: '1', updatedAt: ctx.clock };
      const fresh = Array.from({ length: 10 }, (_, i) => row(i));
      const outcomes = await Promise.allSettled([
        ...fresh.map((r) => ctx.storage.createGuest(r, [attribute])),
        // The same id as an existing guest: a primary-key violation in the database.
        ctx.storage.createGuest({ ...row(0), id: guest.id }, [attribute]),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        [...fresh.map(() => 'fulfilled'), 'rejected'],
      );
      for (const r of fresh) assert.equal((await ctx.storage.getGuest(r.id))?.id, r.id);
      assert.notEqual(
        Buffer.compare(
          Buffer.from((await ctx.storage.getGuest(guest.id))!.secretHash),
          Buffer.from(row(0).secretHash),
        ),
        0,
      );
    });

    it('keeps the funnel exact under concurrent creates, merges, deletes, writes and purges', async () => {
      const gm = engine({ guestTtl: '10d' });
      const before = await gm.stats();
      const created = await Promise.all(
        Array.from({ length: 120 }, (_, i) => gm.createGuest(i % 2 ? { a: i } : undefined)),
      );
      const made = created.length;
      await Promise.all([
        ...created
          .slice(0, 40)
          .map((g) => gm.merge({ guestToken: g.token, userId: ctx.newUser() })),
        ...created.slice(40, 55).map((g) => gm.deleteGuest(g.token)),
        ...created
          .slice(55, 100)
          .map((g) => gm.setGuestAttribute(g.token, 'b', RawJson.parse('2'))),
        ...created.slice(55, 100).map((g) => gm.authenticateGuest(g.token)),
      ]);
      const middle = await gm.stats();
      assert.deepEqual(
        {
          created: middle.created - before.created,
          merged: middle.merged - before.merged,
          active: middle.active - before.active,
          expired: middle.expired - before.expired,
        },
        { created: made, merged: 40, active: made - 55, expired: 0 },
      );
      ctx.clock += 11 * DAY; // every active guest made here has expired
      const expired = await gm.stats();
      assert.equal(expired.created, middle.created);
      assert.equal(expired.merged, middle.merged);
      assert.ok(expired.expired - middle.expired >= made - 55);
      assert.equal(expired.active + expired.expired, middle.active + middle.expired);
      await gm.purgeExpired({ batchSize: 50 });
      assert.deepEqual(await gm.stats(), expired); // the purge moves rows, not the funnel
      await rejectsWith(gm.authenticateGuest(created[60]!.token), 'invalid_guest_credential');
    });
  });
}
