import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rejectsWith, type SuiteContext } from './context.js';

/** A guest deleting itself, and a user's export and erasure: deleted means gone. */
export function dataRightsTests(ctx: SuiteContext): void {
  const engine = ctx.engine;
  describe('data rights', () => {
    it('a guest deletes itself: its credential stops working and its attributes are gone', async () => {
      const gm = engine();
      const { guest, token } = await gm.createGuest({ cart: [{ id: 'b1', quantity: 1 }] });
      assert.equal(await gm.deleteGuest(token), true);
      await rejectsWith(gm.authenticateGuest(token), 'invalid_guest_credential');
      assert.deepEqual(await gm.getAttributes({ kind: 'guest', id: guest.id }), {});
      assert.equal(await gm.deleteGuest(token), false);
    });

    it('lists and inspects guests by id without secrets, and deletes one by id', async () => {
      const gm = engine();
      const a = await gm.createGuest({ theme: 'dark' });
      const b = await gm.createGuest({});
      const page: { id: string; state: string }[] = [];
      // Bounded: the suite's database holds far fewer than 100 pages of guests.
      for (let after = '', pages = 0; pages < 100; pages++) {
        const rows = await gm.listGuests({ after, limit: 100 });
        if (rows.length === 0) break;
        page.push(...rows);
        after = rows.at(-1)!.id;
      }
      const ids = page.map((g) => g.id);
      assert.ok(ids.includes(a.guest.id) && ids.includes(b.guest.id));
      assert.deepEqual([...ids].sort(), ids, 'ordered by id');
      const shown = await gm.inspectGuest(a.guest.id);
      assert.equal(shown?.state, 'active');
      assert.deepEqual(shown?.attributes, { theme: 'dark' });
      assert.ok(!JSON.stringify(shown).includes(a.token.slice(a.token.indexOf('.') + 1)));
      assert.equal(await gm.deleteGuestById(a.guest.id), true);
      assert.equal(await gm.inspectGuest(a.guest.id), null);
      await rejectsWith(gm.authenticateGuest(a.token), 'invalid_guest_credential');
    });

    it("exports a user's profile and merges, then erases both, merge records included", async () => {
      const gm = engine();
      const user = ctx.newUser();
      const first = await gm.createGuest({ cart: [{ id: 'b1', quantity: 1 }] });
      await gm.merge({ guestToken: first.token, userId: user });
      ctx.clock += 1000;
      const second = await gm.createGuest({ theme: 'dark' });
      await gm.merge({ guestToken: second.token, userId: user });
      const bystander = ctx.newUser();
      const other = await gm.createGuest({ theme: 'light' });
      await gm.merge({ guestToken: other.token, userId: bystander });
      const before = await gm.stats();

      const exported = await gm.exportUser(user);
      assert.equal(exported.userId, user);
      assert.deepEqual(exported.attributes, { cart: [{ id: 'b1', quantity: 1 }], theme: 'dark' });
      assert.deepEqual(
        exported.merges.map((m) => m.guestId),
        [first.token.slice(3, 25), second.token.slice(3, 25)],
      );
      assert.equal((exported.merges[1]!.result.attributes as { theme?: unknown }).theme, 'dark');
      assert.match(exported.merges[0]!.mergedAt, /^\d{4}-\d\d-\d\dT/);

      assert.deepEqual(await gm.deleteUser(user), { deleted: true, attributes: 2, merges: 2 });
      assert.deepEqual(await gm.exportUser(user), { userId: user, attributes: {}, merges: [] });
      // The merge record is gone: a retry of that merge finds nothing to replay.
      await rejectsWith(
        gm.merge({ guestToken: first.token, userId: user }),
        'invalid_guest_credential',
      );
      assert.deepEqual(await gm.deleteUser(user), { deleted: false, attributes: 0, merges: 0 });
      // Another user's data is untouched, and the funnel still counts the erased merges.
      assert.deepEqual((await gm.exportUser(bystander)).attributes, { theme: 'light' });
      const after = await gm.stats();
      assert.deepEqual([after.created, after.merged], [before.created, before.merged]);
    });
  });
}
