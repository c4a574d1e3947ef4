import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createGuestmode, GuestmodeError } from '@guestmode/core';
import { openPostgresStorage } from '@guestmode/core/postgres';
import { createTestDatabase, type TestDatabase } from '@guestmode/testkit';
import pg from 'pg';
import type {
  GuestStorage,
  MergeOutcome,
  MergePlan,
  MergeWork,
  StoredAttribute,
} from '../src/storage/types.js';
import { recordStatements } from './pg-helpers.js';

const databases: TestDatabase[] = [];
after(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});

const DAY = 86_400_000;

/** A store on a pool whose statements are recorded, so a test can count transactions. */
async function open(): Promise<{
  storage: GuestStorage;
  pool: pg.Pool;
  admin: pg.Pool;
  sent: string[];
  close: () => Promise<void>;
}> {
  const database = await createTestDatabase();
  databases.push(database);
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  const admin = new pg.Pool({ connectionString: database.url, max: 2 });
  const sent = recordStatements(pool);
  const storage = await openPostgresStorage({ database: pool });
  return {
    storage,
    pool,
    admin,
    sent,
    close: async () => {
      await storage.close();
      await pool.end();
      await admin.end();
    },
  };
}

let serial = 0;
async function newGuest(storage: GuestStorage, count: number): Promise<string> {
  const id = `guest${String(++serial).padStart(4, '0')}${randomBytes(6).toString('hex')}`;
  const now = Date.now();
  await storage.createGuest(
    { id, secretHash: randomBytes(32), createdAt: now, expiresAt: now + DAY },
    [{ name: 'count', value: String(count), updatedAt: now }],
  );
  return id;
}

type Plan = (
  guest: readonly StoredAttribute[],
  user: readonly StoredAttribute[],
  handle: pg.PoolClient,
) => MergePlan | Promise<MergePlan>;

/** Adds the guest's `count` to the user's: a second merge into a user must see the first. */
const sum: Plan = (guest, user) => {
  const value = (list: readonly StoredAttribute[]) =>
    Number(list.find((a) => a.name === 'count')?.value ?? 0);
  const total = String(value(guest) + value(user));
  return {
    writes: [{ name: 'count', value: total, updatedAt: Date.now() }],
    deletes: [],
    result: JSON.stringify({ total }),
  };
};

function work(guestId: string, userId: string, plan: Plan = sum, batchable = true): MergeWork {
  const now = Date.now();
  return {
    guestId,
    userId,
    now,
    retainUntil: now + DAY,
    preview: false,
    batchable,
    plan: (guest, user, transaction) => plan(guest, user, transaction.handle as pg.PoolClient),
  };
}

async function count(storage: GuestStorage, owner: string): Promise<string | undefined> {
  const [kind, id] = owner.split(':') as ['guest' | 'user', string];
  const list = await storage.readAttributes({ kind, id });
  return list.find((a) => a.name === 'count')?.value;
}

function codes(outcomes: PromiseSettledResult<MergeOutcome>[]): string[] {
  return outcomes.map((o) =>
    o.status === 'fulfilled' ? o.value.status : (o.reason as GuestmodeError).code,
  );
}

describe('postgres merge groups', () => {
  it('merges that arrive together share one transaction; a throwing rule fails only its merge', async () => {
    const { storage, sent, close } = await open();
    try {
      const guests = await Promise.all([1, 2, 3, 4].map((n) => newGuest(storage, n)));
      sent.length = 0;
      const failing: Plan = async (_guest, _user, handle) => {
        // What an app rule may do: write through the merge's connection, then throw.
        await handle.query(
          "INSERT INTO gm_attributes (owner, name, value, size, updated_at) VALUES ('u:u3', 'x', '1', 1, 0)",
        );
        throw new Error('the app refuses this merge');
      };
      const outcomes = await Promise.allSettled([
        storage.merge(work(guests[0]!, 'u1')),
        storage.merge(work(guests[1]!, 'u2', sum, false)),
        storage.merge(work(guests[2]!, 'u3', failing, false)),
        storage.merge(work(guests[3]!, 'u4')),
      ]);
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'fulfilled' ? o.value.status : String(o.reason))),
        ['merged', 'merged', 'Error: the app refuses this merge', 'merged'],
      );
      assert.equal(sent.filter((s) => s === 'BEGIN').length, 1, sent.join('\n'));
      assert.equal(sent.filter((s) => s === 'COMMIT').length, 1);
      assert.equal(await count(storage, 'user:u1'), '1');
      assert.equal(await count(storage, 'user:u2'), '2');
      assert.equal(await count(storage, 'user:u4'), '4');
      // The refused merge left nothing: its guest is intact, its rule's write rolled back.
      assert.deepEqual(await storage.readAttributes({ kind: 'user', id: 'u3' }), []);
      assert.equal(await count(storage, `guest:${guests[2]}`), '3');
      assert.equal((await storage.getGuest(guests[2]!))?.mergedInto, null);
      assert.equal((await storage.stats(Date.now())).merged, 3);
    } finally {
      await close();
    }
  });

  it('through the engine: an app rule that throws for one guest fails that merge and its event only', async () => {
    const { storage, pool, close } = await open();
    try {
      const gm = createGuestmode({
        storage,
        events: { onEvent: () => {}, delivery: { enabled: false } },
        mergeRules: {
          cart: async ({ guest, transaction }) => {
            const client = transaction.handle as pg.PoolClient;
            // The app's own row, moved with the merge and undone with it.
            await client.query(
              "INSERT INTO gm_attributes (owner, name, value, size, updated_at) VALUES ('app:' || $1, 'moved', '1', 1, 0)",
              [JSON.stringify(guest.value)],
            );
            if (guest.value === 'bad') throw new Error('app rule failed');
            return { value: guest.value, outcome: 'copied' };
          },
        },
      });
      const carts = ['a', 'b', 'bad', 'c', 'd'];
      const guests = await Promise.all(carts.map((cart) => gm.createGuest({ cart })));
      const outcomes = await Promise.allSettled(
        guests.map((g, i) => gm.merge({ guestToken: g.token, userId: `engine-${i}` })),
      );
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'fulfilled' ? 'merged' : String(o.reason))),
        ['merged', 'merged', 'Error: app rule failed', 'merged', 'merged'],
      );
      const bad = guests[2]!;
      assert.equal((await gm.authenticateGuest(bad.token)).guest.id, bad.guest.id, 'still active');
      assert.equal(await gm.getAttribute({ kind: 'user', id: 'engine-2' }, 'cart'), undefined);
      const { rows } = await pool.query<{ subject: string }>(
        "SELECT subject FROM gm_events WHERE type = 'guest.merged' ORDER BY subject",
      );
      const merged = guests.filter((_, i) => i !== 2).map((g) => `g:${g.guest.id}`);
      assert.deepEqual(
        rows.map((r) => r.subject),
        merged.sort(),
      );
      const moved = await pool.query<{ owner: string }>(
        "SELECT owner FROM gm_attributes WHERE name = 'moved' ORDER BY owner",
      );
      assert.deepEqual(
        moved.rows.map((r) => r.owner),
        ['app:"a"', 'app:"b"', 'app:"c"', 'app:"d"'],
      );
    } finally {
      await close();
    }
  });

  it('the same guest twice in one group merges once; the second gets the answer it gets alone', async () => {
    const { storage, sent, close } = await open();
    try {
      const [a, b] = await Promise.all([newGuest(storage, 5), newGuest(storage, 6)]);
      sent.length = 0;
      const outcomes = await Promise.allSettled([
        storage.merge(work(a!, 'same')),
        storage.merge(work(a!, 'same')),
        storage.merge(work(b!, 'first')),
        storage.merge(work(b!, 'second')),
      ]);
      assert.deepEqual(codes(outcomes), ['merged', 'replayed', 'merged', 'guest_already_merged']);
      assert.equal(sent.filter((s) => s === 'BEGIN').length, 1);
      const [first, replay] = outcomes as PromiseFulfilledResult<MergeOutcome>[];
      assert.equal(replay!.value.result, first!.value.result);
      assert.equal(await count(storage, 'user:same'), '5');
      assert.equal(await count(storage, 'user:second'), undefined);
      assert.equal((await storage.stats(Date.now())).merged, 2);
    } finally {
      await close();
    }
  });

  it('two guests into one user in one group: the second merge sees the first', async () => {
    const { storage, sent, close } = await open();
    try {
      const guests = await Promise.all([10, 20, 30].map((n) => newGuest(storage, n)));
      sent.length = 0;
      let seen: string | undefined;
      // An app rule that reads the store through the connection sees the merge before it.
      const reading: Plan = async (guest, user, handle) => {
        const { rows } = await handle.query<{ value: string }>(
          "SELECT value FROM gm_attributes WHERE owner = 'u:shared' AND name = 'count'",
        );
        seen = rows[0]?.value;
        return sum(guest, user, handle);
      };
      const outcomes = await Promise.all([
        storage.merge(work(guests[0]!, 'shared')),
        storage.merge(work(guests[1]!, 'shared', reading, false)),
        storage.merge(work(guests[2]!, 'shared')),
      ]);
      assert.equal(sent.filter((s) => s === 'BEGIN').length, 1);
      assert.deepEqual(
        outcomes.map((o) => JSON.parse(o.result).total),
        ['10', '30', '60'],
      );
      assert.equal(await count(storage, 'user:shared'), '60');
      assert.equal(seen, '10');
    } finally {
      await close();
    }
  });

  it('a connection killed mid-group writes nothing half-way; its merges run again alone', async () => {
    const { storage, admin, close } = await open();
    try {
      const guests = await Promise.all([1, 2, 3, 4].map((n) => newGuest(storage, n)));
      let kills = 0;
      // Ends the group's own connection from outside while its second merge is being planned,
      // after the first merge's statements were sent; once only, so the retry goes through.
      const killer: Plan = async (guest, user, handle) => {
        if (kills++ === 0) {
          const { rows } = await handle.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        }
        return sum(guest, user, handle);
      };
      const outcomes = await Promise.allSettled([
        storage.merge(work(guests[0]!, 'k1')),
        storage.merge(work(guests[1]!, 'k2', killer, false)),
        storage.merge(work(guests[2]!, 'k3')),
        storage.merge(work(guests[3]!, 'k4')),
      ]);
      assert.deepEqual(codes(outcomes), ['merged', 'merged', 'merged', 'merged']);
      assert.equal(kills, 2);
      for (const [i, user] of ['k1', 'k2', 'k3', 'k4'].entries()) {
        assert.equal(await count(storage, `user:${user}`), String(i + 1));
      }
      assert.equal((await storage.stats(Date.now())).merged, 4);
    } finally {
      await close();
    }
  });

  it('a group chosen as a deadlock victim is rolled back, and its merges run again alone', async () => {
    const { storage, admin, close } = await open();
    const external = await admin.connect();
    try {
      const guests = await Promise.all([1, 2, 3].map((n) => newGuest(storage, n)));
      await admin.query(
        "INSERT INTO gm_attributes (owner, name, value, size, updated_at) VALUES ('u:dl2', 'count', '100', 3, 0)",
      );
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered!: () => void;
      const inPlan = new Promise<void>((resolve) => {
        entered = resolve;
      });
      let calls = 0;
      const waiting: Plan = async (guest, user, handle) => {
        if (calls++ === 0) {
          entered();
          await gate;
        }
        return sum(guest, user, handle);
      };
      const merges = Promise.allSettled([
        storage.merge(work(guests[0]!, 'dl1')),
        storage.merge(work(guests[1]!, 'dl2', waiting, false)),
        storage.merge(work(guests[2]!, 'dl3')),
      ]);
      await inPlan;
      // Another transaction holds the user's attribute row the group is about to write, then
      // asks for a guest row the group holds: a lock cycle.
      // The group's session looks for the cycle after the default second, this one only after
      // a minute: PostgreSQL ends the group, whatever the host's scheduling.
      await external.query("SET deadlock_timeout = '60s'");
      await external.query('BEGIN');
      await external.query("UPDATE gm_attributes SET updated_at = 1 WHERE owner = 'u:dl2'");
      const { rows } = await external.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      release();
      let blocked = false;
      for (let i = 0; i < 400 && !blocked; i++) {
        const waiters = await admin.query(
          `SELECT 1 FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND pid <> $1 AND datname = current_database()`,
          [rows[0]!.pid],
        );
        blocked = waiters.rowCount! > 0;
        if (!blocked) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.ok(blocked, 'the group never waited for the row');
      await external.query('SELECT 1 FROM gm_guests WHERE id = $1 FOR UPDATE', [guests[1]]);
      await external.query('COMMIT');
      assert.deepEqual(codes(await merges), ['merged', 'merged', 'merged']);
      assert.equal(calls, 2);
      assert.equal(await count(storage, 'user:dl1'), '1');
      assert.equal(await count(storage, 'user:dl2'), '102');
      assert.equal(await count(storage, 'user:dl3'), '3');
      assert.equal((await storage.stats(Date.now())).merged, 3);
    } finally {
      external.release(true);
      await close();
    }
  });

  it('a merge whose connection is lost every time fails as storage_unavailable, its guest intact', async () => {
    const { storage, admin, close } = await open();
    try {
      const guests = await Promise.all([1, 2, 3].map((n) => newGuest(storage, n)));
      const killer: Plan = async (guest, user, handle) => {
        const { rows } = await handle.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        return sum(guest, user, handle);
      };
      const outcomes = await Promise.allSettled([
        storage.merge(work(guests[0]!, 'd1')),
        storage.merge(work(guests[1]!, 'd2', killer, false)),
        storage.merge(work(guests[2]!, 'd3')),
      ]);
      assert.deepEqual(codes(outcomes), ['merged', 'storage_unavailable', 'merged']);
      assert.equal(await count(storage, 'user:d2'), undefined);
      assert.equal(await count(storage, `guest:${guests[1]}`), '2');
      assert.equal((await storage.getGuest(guests[1]!))?.mergedInto, null);
      assert.equal((await storage.stats(Date.now())).merged, 2);
      const rejected = outcomes[1] as PromiseRejectedResult;
      assert.ok(rejected.reason instanceof GuestmodeError);
    } finally {
      await close();
    }
  });
});
