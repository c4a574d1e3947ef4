// The SQLite read cache must never answer with a guest that changed: not after the storage's
// own writes, not after another connection or process wrote the file, not after the app wrote
// through a connection it shares with the storage.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createGuestmode, type Guestmode, toProfile } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import type BetterSqlite3 from 'better-sqlite3';
import { GuestCache } from '../src/storage/sqlite/guest-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'gm-sqlite-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const nextFile = () => join(dir, `cache-${files++}.db`);
const { Database, path: driverPath } = loadSqliteDriver();

async function open(
  options: { readCache?: number | false; database?: string | BetterSqlite3.Database } = {},
): Promise<{ guestmode: Guestmode; file: string }> {
  const file = typeof options.database === 'string' ? options.database : nextFile();
  const storage = await openSqliteStorage({
    database: options.database ?? file,
    ...(options.readCache === undefined ? {} : { readCache: options.readCache }),
  });
  return {
    guestmode: createGuestmode({ storage, mergeRules: { cart: 'sum-by-key' } }),
    file,
  };
}

const cartOf = async (guestmode: Guestmode, token: string) =>
  toProfile((await guestmode.authenticateGuest(token)).attributes).cart;

describe('SQLite read cache', () => {
  test('a second read of an unchanged guest gives the same answer', async () => {
    const { guestmode } = await open();
    const { token } = await guestmode.createGuest({ cart: [1] });
    const first = await guestmode.authenticateGuest(token);
    const second = await guestmode.authenticateGuest(token);
    assert.deepEqual(second.attributes, first.attributes);
    assert.ok(Object.isFrozen(second.attributes), 'shared entries are frozen');
    // The secret is checked on every read, cached or not.
    const wrong = `${token.slice(0, -4)}AAAA`;
    await assert.rejects(guestmode.authenticateGuest(wrong), { code: 'invalid_guest_credential' });
    await guestmode.close();
  });

  test("the storage's own writes are seen at once", async () => {
    const { guestmode } = await open();
    const { guest, token } = await guestmode.createGuest({ cart: [1] });
    const principal = { kind: 'guest', id: guest.id } as const;
    assert.deepEqual(await cartOf(guestmode, token), [1]);
    await guestmode.setAttribute(principal, 'cart', [2]);
    assert.deepEqual(await cartOf(guestmode, token), [2]);
    await guestmode.setGuestAttribute(token, 'cart', [3]);
    assert.deepEqual(await cartOf(guestmode, token), [3]);
    await guestmode.deleteAttribute(principal, 'cart');
    assert.equal(await cartOf(guestmode, token), undefined);
    await guestmode.merge({ guestToken: token, userId: 'user-1' });
    await assert.rejects(guestmode.authenticateGuest(token), { code: 'guest_merged' });

    const other = await guestmode.createGuest({ cart: [1] });
    await guestmode.authenticateGuest(other.token);
    assert.equal(await guestmode.deleteGuest(other.token), true);
    await assert.rejects(guestmode.authenticateGuest(other.token), {
      code: 'invalid_guest_credential',
    });
    await guestmode.close();
  });

  test('a guest purged by this storage is gone from the cache', async () => {
    let now = Date.UTC(2026, 0, 1);
    const storage = await openSqliteStorage({ database: nextFile() });
    const guestmode = createGuestmode({ storage, guestTtl: '1h', now: () => now });
    const { token } = await guestmode.createGuest({ cart: [1] });
    await guestmode.authenticateGuest(token);
    now += 2 * 3_600_000;
    await assert.rejects(guestmode.authenticateGuest(token), { code: 'guest_expired' });
    assert.equal((await guestmode.purgeExpired()).deleted, 1);
    await assert.rejects(guestmode.authenticateGuest(token), { code: 'invalid_guest_credential' });
    await guestmode.close();
  });

  test('a write by another connection to the same file is seen', async () => {
    const { guestmode, file } = await open();
    const { guest, token } = await guestmode.createGuest({ cart: [1] });
    assert.deepEqual(await cartOf(guestmode, token), [1]);
    const other = new Database(file);
    other
      .prepare("UPDATE gm_attributes SET value = '[9]' WHERE owner = ? AND name = 'cart'")
      .run(`g:${guest.id}`);
    other.close();
    assert.deepEqual(await cartOf(guestmode, token), [9]);
    await guestmode.close();
  });

  test('a guest merged by another process is refused at once', async () => {
    const { guestmode, file } = await open();
    const { guest, token } = await guestmode.createGuest({ cart: [1] });
    await guestmode.authenticateGuest(token);
    // A real second process, as `guestmode purge` or a second server would be.
    execFileSync(process.execPath, [
      '-e',
      `const Database = require(${JSON.stringify(driverPath)});
       const db = new Database(${JSON.stringify(file)});
       db.prepare("UPDATE gm_guests SET merged_into = 'elsewhere', merged_at = 1 WHERE id = ?").run(${JSON.stringify(guest.id)});
       db.close();`,
    ]);
    await assert.rejects(guestmode.authenticateGuest(token), { code: 'guest_merged' });
    await guestmode.close();
  });

  test('a write through a connection shared with the app is seen', async () => {
    const file = nextFile();
    const db = new Database(file);
    const { guestmode } = await open({ database: db });
    const { guest, token } = await guestmode.createGuest({ cart: [1] });
    assert.deepEqual(await cartOf(guestmode, token), [1]);
    db.prepare("UPDATE gm_attributes SET value = '[7]' WHERE owner = ?").run(`g:${guest.id}`);
    assert.deepEqual(await cartOf(guestmode, token), [7]);
    // Also when the storage writes something else in between, before the next read.
    db.prepare("UPDATE gm_attributes SET value = '[8]' WHERE owner = ?").run(`g:${guest.id}`);
    await guestmode.createGuest({ other: true });
    assert.deepEqual(await cartOf(guestmode, token), [8]);
    await guestmode.close();
    db.close();
  });

  test("an app merge rule's writes through the transaction are seen", async () => {
    const storage = await openSqliteStorage({ database: nextFile() });
    let watched = '';
    const guestmode = createGuestmode({
      storage,
      mergeRules: {
        cart: async ({ guest, transaction }) => {
          // An app rule may touch any row through the open transaction, another guest's too.
          await Promise.resolve();
          (transaction.handle as BetterSqlite3.Database)
            .prepare("UPDATE gm_attributes SET value = '[5]' WHERE owner = ?")
            .run(`g:${watched}`);
          return { value: guest.value, outcome: 'copied' };
        },
      },
    });
    const bystander = await guestmode.createGuest({ cart: [1] });
    watched = bystander.guest.id;
    assert.deepEqual(await cartOf(guestmode, bystander.token), [1]);
    const merging = await guestmode.createGuest({ cart: [2] });
    await guestmode.merge({ guestToken: merging.token, userId: 'user-2' });
    assert.deepEqual(await cartOf(guestmode, bystander.token), [5]);
    await guestmode.close();
  });

  test('readCache: false reads every time; bad sizes are refused', async () => {
    const { guestmode, file } = await open({ readCache: false });
    const { token } = await guestmode.createGuest({ cart: [1] });
    assert.deepEqual(await cartOf(guestmode, token), [1]);
    const other = new Database(file);
    other.prepare("UPDATE gm_attributes SET value = '[4]'").run();
    other.close();
    assert.deepEqual(await cartOf(guestmode, token), [4]);
    await guestmode.close();
    for (const readCache of [0, -1, 1.5, Number.NaN, '1' as unknown as number]) {
      const file = nextFile();
      await assert.rejects(openSqliteStorage({ database: file, readCache }), TypeError);
      // Refused before anything was opened: no file, no checkpoint thread left behind.
      assert.equal(existsSync(file), false);
    }
  });
});

describe('GuestCache', () => {
  const entry = (id: string, value = '[]') => ({
    guest: {
      id,
      secretHash: Buffer.alloc(32),
      createdAt: 0,
      expiresAt: 1,
      mergedInto: null,
      mergedAt: null,
    },
    attributes: [{ name: 'cart', value, updatedAt: 0 }],
  });

  test('evicts the least recently used entries past its memory bound', () => {
    const probe = new GuestCache(1_000_000);
    probe.set(entry('x'));
    const one = probe.bytes;
    const cache = new GuestCache(one * 4 + Math.floor(one / 2));
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) cache.set(entry(id));
    assert.equal(cache.size, 4);
    assert.ok(cache.bytes <= one * 4 + one / 2);
    assert.equal(cache.get('a'), undefined, 'the oldest went first');
    assert.equal(cache.get('b'), undefined);
    // Reading an entry makes it the most recent: the next eviction takes the next oldest.
    assert.ok(cache.get('c'));
    cache.set(entry('g'));
    assert.ok(cache.get('c'));
    assert.equal(cache.get('d'), undefined);
  });

  test('does not keep a profile larger than a quarter of its memory', () => {
    const cache = new GuestCache(4_000);
    const big = entry('big', `"${'x'.repeat(1_000)}"`);
    assert.equal(cache.set(big), big);
    assert.equal(cache.get('big'), undefined);
    assert.equal(cache.bytes, 0);
  });

  test('replacing, deleting and clearing keep the byte count exact', () => {
    const cache = new GuestCache(100_000);
    cache.set(entry('a'));
    const one = cache.bytes;
    cache.set(entry('a'));
    assert.equal(cache.bytes, one);
    cache.set(entry('b'));
    cache.delete('a');
    assert.equal(cache.bytes, one);
    cache.clear();
    assert.equal(cache.bytes, 0);
    assert.equal(cache.size, 0);
    assert.throws(() => new GuestCache(0), TypeError);
  });
});
