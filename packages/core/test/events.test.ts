// Webhook delivery end to end: every request a receiver gets verifies with the `standardwebhooks`
// package, carries the documented body, survives the receiver being down, and never goes to an
// internal address unless that is allowed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createGuestmode, type GuestmodeEvent, isInternalAddress } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { startWebhookReceiver, type WebhookReceiver, waitFor } from '@guestmode/testkit';
import { Webhook } from 'standardwebhooks';

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
const fast = { intervalMs: 20, retryBaseMs: 20, retryMaxMs: 40, timeoutMs: 2000 };

const receivers: WebhookReceiver[] = [];
after(() => Promise.all(receivers.map((r) => r.close())));

async function receiver(): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver();
  receivers.push(r);
  return r;
}

/** Verifies a delivery with one secret; answers the parsed body. */
function verified(secret: string, request: { headers: Record<string, string>; body: string }) {
  return new Webhook(secret).verify(request.body, request.headers) as Omit<GuestmodeEvent, 'id'>;
}

describe('webhooks', () => {
  it('delivers every event type, signed with each secret of a rotation, as documented', async () => {
    const hooks = await receiver();
    const [oldSecret, newSecretValue] = [newSecret(), newSecret()];
    let clock = Date.now();
    const gm = createGuestmode({
      storage: await openSqliteStorage({ database: ':memory:' }),
      now: () => clock,
      mergeRules: { cart: 'sum-by-key' },
      events: {
        include: ['guest.created'],
        allowPrivateNetworks: true,
        webhooks: [{ url: hooks.url, secret: [oldSecret, newSecretValue] }],
        delivery: fast,
      },
    });
    try {
      const merged = await gm.createGuest({ cart: [{ id: 'b1', quantity: 1 }] });
      await gm.merge({ guestToken: merged.token, userId: 'user-1' });
      const deleted = await gm.createGuest({});
      await gm.deleteGuest(deleted.token);
      await gm.deleteUser('user-2');
      const stale = await gm.createGuest({});
      clock += 31 * 86_400_000;
      await gm.purgeExpired();
      await waitFor(() => hooks.accepted().length >= 7, { timeoutMs: 10_000 });
      const all = hooks.accepted();
      const bodies = all.map((request) => {
        const body = verified(oldSecret, request);
        assert.deepEqual(verified(newSecretValue, request), body);
        assert.match(request.headers['webhook-id']!, /^evt_/);
        assert.equal(request.headers['content-type'], 'application/json');
        return { id: request.headers['webhook-id'], ...body };
      });
      assert.equal(new Set(bodies.map((b) => b.id)).size, 7, 'one delivery per event');
      const types = (guestId: string) =>
        bodies.filter((b) => 'guestId' in b.data && b.data.guestId === guestId).map((b) => b.type);
      // Per guest, in the order the changes happened.
      assert.deepEqual(types(merged.guest.id), ['guest.created', 'guest.merged']);
      assert.deepEqual(types(deleted.guest.id), ['guest.created', 'guest.deleted']);
      assert.deepEqual(types(stale.guest.id), ['guest.created', 'guest.expired']);
      const merge = bodies.find((b) => b.type === 'guest.merged')!;
      assert.deepEqual(merge.data, {
        guestId: merged.guest.id,
        userId: 'user-1',
        mergedAt: merge.timestamp,
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
      });
      assert.deepEqual(bodies.find((b) => b.type === 'user.deleted')!.data, { userId: 'user-2' });
      assert.deepEqual(bodies.find((b) => b.type === 'guest.deleted')!.data, {
        guestId: deleted.guest.id,
        by: 'guest',
      });
      const wrong = { ...all[0]!, body: all[0]!.body.replace('guest', 'gvest') };
      assert.throws(() => verified(oldSecret, wrong), /signature/i);
    } finally {
      await gm.close();
    }
  });

  it('retries while the receiver is down and delivers once it is back, with the same id', async () => {
    const hooks = await receiver();
    const secret = newSecret();
    hooks.status = 503;
    const gm = createGuestmode({
      storage: await openSqliteStorage({ database: ':memory:' }),
      events: {
        allowPrivateNetworks: true,
        webhooks: [{ url: hooks.url, secret, events: ['user.deleted'] }],
        delivery: fast,
      },
    });
    try {
      await gm.deleteUser('user-down');
      await waitFor(() => hooks.requests.length >= 3, { timeoutMs: 10_000 });
      const [pending] = await gm.listEvents({ state: 'pending' });
      assert.ok(pending && pending.attempts >= 2 && pending.lastError?.includes('HTTP 503'));
      hooks.status = 200;
      await waitFor(() => hooks.accepted().length === 1, { timeoutMs: 10_000 });
      const [ok] = hooks.accepted();
      assert.equal(verified(secret, ok!).type, 'user.deleted');
      assert.deepEqual(new Set(hooks.requests.map((r) => r.headers['webhook-id'])).size, 1);
      await waitFor(async () => (await gm.listEvents({ state: 'delivered' })).length === 1);
      const [done] = await gm.listEvents({ state: 'delivered' });
      assert.deepEqual(done!.deliveredTo, [`${new URL(hooks.url).origin}/hooks`]);
    } finally {
      await gm.close();
    }
  });

  it('refuses internal addresses unless allowed', async () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fd00::1',
      'fc00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:169.254.169.254',
    ]) {
      assert.equal(isInternalAddress(address), true, address);
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      assert.equal(isInternalAddress(address), false, address);
    }
    const hooks = await receiver();
    const gm = createGuestmode({
      storage: await openSqliteStorage({ database: ':memory:' }),
      events: {
        webhooks: [
          { url: hooks.url, secret: newSecret() },
          { url: hooks.url.replace('127.0.0.1', 'localhost'), secret: newSecret() },
        ],
        delivery: { ...fast, enabled: false },
      },
    });
    try {
      await gm.deleteUser('user-x');
      await gm.deliverEvents();
      const [event] = await gm.listEvents();
      assert.equal(event?.state, 'pending');
      assert.equal(
        event?.lastError?.match(/internal address refused/g)?.length,
        2,
        event?.lastError ?? '',
      );
      assert.equal(hooks.requests.length, 0);
    } finally {
      await gm.close();
    }
  });

  it('refuses bad event options, naming them', async () => {
    const storage = await openSqliteStorage({ database: ':memory:' });
    try {
      const secret = newSecret();
      const cases: [unknown, RegExp][] = [
        [{ hooks: [] }, /options\.events\.hooks: unknown option/],
        [{ webhooks: [{ url: 'ftp://x', secret }] }, /options\.events\.webhooks\[0\]\.url: /],
        [{ webhooks: [{ url: 'https://x.test', secret: 'hunter2' }] }, /webhooks\[0\]\.secret: /],
        [
          { webhooks: [{ url: 'https://x.test', secret, events: ['guest.created'] }] },
          /webhooks\[0\]\.events\[0\]: guest\.created is off/,
        ],
        [{ include: ['guest.merged'] }, /options\.events\.include\[0\]: /],
        [{ onEvent: 'log' }, /options\.events\.onEvent: /],
        [{ onEvent: () => {}, delivery: { every: 1 } }, /options\.events\.delivery\.every: /],
        [
          { onEvent: () => {}, delivery: { timeoutMs: 5000, leaseMs: 1000 } },
          /options\.events\.delivery\.leaseMs: /,
        ],
      ];
      for (const [events, message] of cases) {
        assert.throws(() => createGuestmode({ storage, events } as never), message);
      }
      // The secret never appears in an error.
      assert.throws(
        () =>
          createGuestmode({
            storage,
            events: { webhooks: [{ url: 'https://x.test', secret: 'whsec_short' }] },
          }),
        (error: Error) => !error.message.includes('whsec_short'),
      );
    } finally {
      await storage.close();
    }
  });
});
