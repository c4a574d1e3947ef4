import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GuestmodeEvent } from '../../events/types.js';
import type { StoredEvent } from '../types.js';
import { DAY, rejectsWith, type SuiteContext } from './context.js';

/**
 * The outbox: an event is written in the transaction of its change (a rolled-back change has
 * none), only when a consumer is configured, and handed out in order per guest with a lease.
 */
export function eventTests(ctx: SuiteContext): void {
  const engine = ctx.engine;
  const quiet = { delivery: { enabled: false } } as const;
  const collect = () => {
    const received: GuestmodeEvent[] = [];
    const onEvent = (event: GuestmodeEvent) => {
      received.push(event);
    };
    return { received, onEvent };
  };
  /** Every event of the outbox, a page at a time (bounded: the suite writes far fewer). */
  const allEvents = async (): Promise<StoredEvent[]> => {
    const events: StoredEvent[] = [];
    for (let after = '', pages = 0; pages < 100; pages++) {
      const page = await ctx.storage.outbox.list(undefined, after, 500);
      if (page.length === 0) break;
      events.push(...page);
      after = page.at(-1)!.id;
    }
    return events;
  };
  const ofSubject = async (subject: string) =>
    (await allEvents()).filter((e) => e.subject === subject);

  describe('events', () => {
    it('writes nothing when no consumer is configured', async () => {
      const gm = engine();
      const before = (await allEvents()).length;
      const { token } = await gm.createGuest({ cart: [{ id: 'b1', quantity: 1 }] });
      await gm.setGuestAttribute(token, 'theme', 'dark');
      await gm.merge({ guestToken: token, userId: ctx.newUser() });
      await gm.deleteUser(ctx.newUser());
      assert.equal((await allEvents()).length, before);
    });

    it('a merge commits exactly one guest.merged; a replay and a preview write none', async () => {
      const { received, onEvent } = collect();
      const gm = engine({ events: { onEvent, ...quiet } });
      const user = ctx.newUser();
      const { guest, token } = await gm.createGuest({ cart: [{ id: 'b1', quantity: 2 }] });
      await gm.previewMerge({ guestToken: token, userId: user });
      assert.deepEqual(await ofSubject(`g:${guest.id}`), [], 'guest.created is opt-in');
      await gm.merge({ guestToken: token, userId: user });
      await gm.merge({ guestToken: token, userId: user });
      const [event, ...more] = await ofSubject(`g:${guest.id}`);
      assert.equal(more.length, 0);
      assert.equal(event?.type, 'guest.merged');
      assert.equal(event?.state, 'pending');
      assert.match(event!.id, /^evt_[A-Za-z0-9_-]{24}$/);
      assert.ok((await gm.deliverEvents()) >= 1);
      const mine = received.filter((e) => e.id === event!.id);
      assert.equal(mine.length, 1);
      assert.deepEqual(mine[0], {
        id: event!.id,
        type: 'guest.merged',
        timestamp: new Date(ctx.clock).toISOString(),
        data: {
          guestId: guest.id,
          userId: user,
          mergedAt: new Date(ctx.clock).toISOString(),
          changes: [
            {
              attribute: 'cart',
              rule: 'sum-by-key',
              outcome: 'copied',
              guestItems: 1,
              resultItems: 1,
            },
          ],
          conflicts: 0,
        },
      });
      const [settled] = await ofSubject(`g:${guest.id}`);
      assert.equal(settled?.state, 'delivered');
      assert.deepEqual(settled?.done, ['onEvent']);
    });

    it('a merge whose app rule throws is rolled back with its event', async () => {
      const gm = engine({
        events: { onEvent: () => {}, ...quiet },
        mergeRules: {
          cart: () => {
            throw new Error('app rule failed');
          },
        },
      });
      const { guest, token } = await gm.createGuest({ cart: [{ id: 'b1', quantity: 1 }] });
      await assert.rejects(gm.merge({ guestToken: token, userId: ctx.newUser() }), /app rule/);
      assert.deepEqual(await ofSubject(`g:${guest.id}`), []);
      assert.equal((await gm.authenticateGuest(token)).guest.id, guest.id, 'still active');
    });

    it('guest.created when included; guest.deleted by the guest and by an operator', async () => {
      const gm = engine({ events: { onEvent: () => {}, include: ['guest.created'], ...quiet } });
      const a = await gm.createGuest({});
      const b = await gm.createGuest({});
      assert.equal(await gm.deleteGuest(a.token), true);
      assert.equal(await gm.deleteGuestById(b.guest.id), true);
      assert.equal(await gm.deleteGuestById(b.guest.id), false);
      const payloads = async (id: string) =>
        (await ofSubject(`g:${id}`)).map((e) => JSON.parse(e.payload) as GuestmodeEvent);
      const [createdA, deletedA] = await payloads(a.guest.id);
      assert.equal(createdA?.type, 'guest.created');
      assert.deepEqual(createdA?.data, {
        guestId: a.guest.id,
        expiresAt: a.guest.expiresAt.toISOString(),
      });
      assert.deepEqual(deletedA?.data, { guestId: a.guest.id, by: 'guest' });
      const forB = await payloads(b.guest.id);
      assert.deepEqual(
        forB.map((e) => [e.type, e.data]),
        [
          ['guest.created', { guestId: b.guest.id, expiresAt: b.guest.expiresAt.toISOString() }],
          ['guest.deleted', { guestId: b.guest.id, by: 'operator' }],
        ],
      );
    });

    it('user.deleted with the erasure; guest.expired with the purge, merged guests excluded', async () => {
      const gm = engine({ events: { onEvent: () => {}, ...quiet } });
      const user = ctx.newUser();
      await gm.deleteUser(user);
      const [erased] = await ofSubject(`u:${user}`);
      assert.deepEqual(JSON.parse(erased!.payload).data, { userId: user });
      const stale = await gm.createGuest({ theme: 'dark' });
      const merged = await gm.createGuest({ theme: 'light' });
      await gm.merge({ guestToken: merged.token, userId: ctx.newUser() });
      ctx.clock += 400 * DAY;
      await gm.purgeExpired();
      const expired = await ofSubject(`g:${stale.guest.id}`);
      assert.deepEqual(
        expired.map((e) => [e.type, JSON.parse(e.payload).data]),
        [['guest.expired', { guestId: stale.guest.id }]],
      );
      assert.deepEqual(
        (await ofSubject(`g:${merged.guest.id}`)).map((e) => e.type),
        ['guest.merged'],
      );
      await rejectsWith(gm.authenticateGuest(stale.token), 'invalid_guest_credential');
    });

    it("hands out a guest's events one at a time, in order, each to one claimer per lease", async () => {
      const gm = engine({ events: { onEvent: () => {}, include: ['guest.created'], ...quiet } });
      await gm.deliverEvents(); // what earlier tests left
      const { guest, token } = await gm.createGuest({});
      await gm.deleteGuest(token);
      const subject = `g:${guest.id}`;
      const { outbox } = ctx.storage;
      const now = ctx.clock;
      const first = (await outbox.claim(now, now + 60_000, 100)).filter(
        (e) => e.subject === subject,
      );
      assert.deepEqual(
        first.map((e) => e.type),
        ['guest.created'],
      );
      const again = await outbox.claim(now, now + 60_000, 100);
      assert.equal(again.filter((e) => e.subject === subject).length, 0, 'leased, and in order');
      // The lease ran out (the claimer died): the event is claimed again, the old claim is void.
      const later = now + 60_001;
      const retaken = (await outbox.claim(later, later + 60_000, 100)).filter(
        (e) => e.subject === subject,
      );
      assert.deepEqual(
        retaken.map((e) => e.id),
        [first[0]!.id],
      );
      const settle = {
        state: 'delivered',
        attempts: 1,
        nextAttemptAt: later,
        done: ['onEvent'],
        lastError: null,
        settledAt: later,
      } as const;
      assert.equal(await outbox.settle(first[0]!.id, first[0]!.claim, settle), false);
      assert.equal(await outbox.settle(retaken[0]!.id, retaken[0]!.claim, settle), true);
      const next = (await outbox.claim(later, later + 60_000, 100)).filter(
        (e) => e.subject === subject,
      );
      assert.deepEqual(
        next.map((e) => e.type),
        ['guest.deleted'],
      );
    });

    it('retries a consumer that throws, then marks the event dead past the horizon; resend revives it', async () => {
      let fail = true;
      const seen: string[] = [];
      const gm = engine({
        events: {
          onEvent: (event) => {
            seen.push(event.id);
            if (fail) throw new Error('down');
          },
          delivery: { enabled: false, retryBaseMs: 1000, retryMaxMs: 1000, giveUpAfter: '1h' },
        },
      });
      await gm.deliverEvents();
      const user = ctx.newUser();
      await gm.deleteUser(user);
      await gm.deliverEvents();
      let [event] = await ofSubject(`u:${user}`);
      assert.equal(event?.state, 'pending');
      assert.equal(event?.attempts, 1);
      assert.match(event!.lastError!, /onEvent: threw Error/);
      assert.ok(event!.nextAttemptAt > ctx.clock && event!.nextAttemptAt <= ctx.clock + 1000);
      ctx.clock += 2 * 3_600_000;
      await gm.deliverEvents();
      [event] = await ofSubject(`u:${user}`);
      assert.equal(event?.state, 'dead');
      assert.deepEqual(
        (await gm.listEvents({ state: 'dead' })).filter((e) => e.id === event!.id).length,
        1,
      );
      fail = false;
      assert.equal(await gm.resendEvent(event!.id), true);
      assert.equal(await gm.resendEvent('evt_missing'), false);
      await gm.deliverEvents();
      [event] = await ofSubject(`u:${user}`);
      assert.equal(event?.state, 'delivered');
      assert.equal(seen.filter((id) => id === event!.id).length, 3);
    });
  });
}
