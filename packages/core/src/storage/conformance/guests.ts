import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawJson } from '../../attributes.js';
import { DAY, type Line, rejectsWith, type SuiteContext } from './context.js';

/** Guests, credentials, expiry and attribute writes. */
export function guestTests(ctx: SuiteContext): void {
  const engine = ctx.engine;
  const newUser = ctx.newUser;
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
      assert.equal(await ctx.storage.getGuest(guest.id), null);
      assert.deepEqual(await ctx.storage.readAttributes({ kind: 'guest', id: guest.id }), []);
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
      const start = ctx.clock;
      const { token, guest } = await gm.createGuest({ theme: 'dark' });
      ctx.clock = start + 4 * DAY; // less than half used: no extension
      assert.equal((await gm.authenticateGuest(token)).fresh, false);
      ctx.clock = start + 6 * DAY; // more than half used: extended to now + ttl
      const extended = await gm.authenticateGuest(token);
      assert.equal(extended.fresh, true);
      assert.equal(extended.guest.expiresAt.getTime(), ctx.clock + 10 * DAY);
      assert.equal((await ctx.storage.getGuest(guest.id))?.expiresAt, ctx.clock + 10 * DAY);
      ctx.clock += 10 * DAY; // expired
      await rejectsWith(gm.authenticateGuest(token), 'guest_expired');
      await rejectsWith(gm.setAttribute({ kind: 'guest', id: guest.id }, 'x', 1), 'guest_expired');
      const expiredBefore = (await gm.stats()).expired;
      const many = await Promise.all(Array.from({ length: 25 }, () => gm.createGuest({ a: 1 })));
      ctx.clock += 31 * DAY;
      const { deleted } = await gm.purgeExpired({ batchSize: 7 });
      assert.ok(deleted >= 26, `purged ${deleted}`);
      for (const g of many.slice(0, 3)) {
        assert.equal(await ctx.storage.getGuest(g.guest.id), null);
        assert.deepEqual(await ctx.storage.readAttributes({ kind: 'guest', id: g.guest.id }), []);
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
      const start = ctx.clock;
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
      ctx.clock = start + 6 * DAY; // past half its life: the write extends it
      const slid = await gm.setGuestAttribute(token, 'a', RawJson.parse('3'));
      assert.equal(slid.fresh, true);
      assert.equal(slid.guest.expiresAt.getTime(), ctx.clock + 10 * DAY);
      assert.equal((await ctx.storage.getGuest(guest.id))?.expiresAt, ctx.clock + 10 * DAY);
      await gm.merge({ guestToken: token, userId: newUser() });
      await rejectsWith(gm.setGuestAttribute(token, 'a', RawJson.parse('4')), 'guest_merged');
      const other = await gm.createGuest();
      ctx.clock += 11 * DAY;
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
}
