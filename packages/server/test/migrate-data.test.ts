import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGuestmode, type GuestStorage } from '@guestmode/core';
import { openPostgresStorage } from '@guestmode/core/postgres';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { createTestDatabase, type TestDatabase } from '@guestmode/testkit';
import { main } from '../src/cli.js';
import { checksum } from '../src/migrate-data/index.js';
import { openCopyStore } from '../src/migrate-data/stores.js';

const dir = mkdtempSync(join(tmpdir(), 'guestmode-migrate-data-'));
const databases: TestDatabase[] = [];
after(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  rmSync(dir, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
  return { code, out, err };
}

async function postgresUrl(): Promise<string> {
  const database = await createTestDatabase();
  databases.push(database);
  return database.url;
}

async function summary(url: string) {
  const store = await openCopyStore(
    url.startsWith('sqlite:')
      ? { kind: 'sqlite', path: url.slice('sqlite:'.length) }
      : { kind: 'postgres', url },
  );
  try {
    return await checksum(store);
  } finally {
    await store.close();
  }
}

const DAY = 86_400_000;
const rules = { cart: 'sum-by-key' } as const;

describe('guestmode migrate-data', () => {
  const source = `sqlite:${join(dir, 'source.db')}`;
  let clock = Date.UTC(2026, 11, 1);
  let token = '';
  let mergedToken = '';
  let stats: Awaited<ReturnType<GuestStorage['stats']>>;

  before(async () => {
    // Enough guests for several batches, user ids whose order differs between collations,
    // merge records, deleted and purged guests (so that every counter moves).
    const storage = await openSqliteStorage({ database: source.slice('sqlite:'.length) });
    const gm = createGuestmode({ storage, mergeRules: rules, now: () => clock });
    const guests = await Promise.all(
      Array.from({ length: 1_150 }, (_, i) =>
        gm.createGuest({ cart: [{ id: `b${i % 7}`, quantity: 1 }] }),
      ),
    );
    token = guests[0]!.token;
    for (const [i, user] of ['Zed', 'alice', 'émile', 'user-1', 'User-2'].entries()) {
      await gm.setAttribute({ kind: 'user', id: user }, 'cart', [{ id: 'b1', quantity: 2 }]);
      await gm.merge({ guestToken: guests[i + 1]!.token, userId: user });
    }
    mergedToken = guests[1]!.token;
    await gm.deleteGuest(guests[10]!.token);
    const shortLived = createGuestmode({ storage, guestTtl: '1d', now: () => clock });
    await Promise.all(Array.from({ length: 3 }, () => shortLived.createGuest({ a: 1 })));
    clock += 2 * DAY;
    await gm.purgeExpired();
    stats = await gm.stats();
    await storage.close();
  });

  it('copies SQLite to PostgreSQL: the same rows, counters and answers', async () => {
    const target = await postgresUrl();
    const copied = await run(['migrate-data', '--from', source, '--to', target]);
    assert.equal(copied.code, 0, copied.err.join('\n'));
    assert.match(
      copied.out.at(-1)!,
      /verified 1149 guests and 1149 attributes, checksum [0-9a-f]{64}/,
    );
    assert.deepEqual(await summary(target), await summary(source));
    const storage = await openPostgresStorage({ database: target });
    try {
      const gm = createGuestmode({ storage, mergeRules: rules, now: () => clock });
      assert.deepEqual(await gm.stats(), stats);
      const session = await gm.authenticateGuest(token);
      assert.deepEqual(await gm.getAttribute({ kind: 'guest', id: session.guest.id }, 'cart'), [
        { id: 'b0', quantity: 1 },
      ]);
      // The merge record came along: a retry replays the stored answer.
      assert.equal((await gm.merge({ guestToken: mergedToken, userId: 'Zed' })).replayed, true);
    } finally {
      await storage.close();
    }

    // A second copy into the same target is refused unless told what to do.
    const again = await run(['migrate-data', '--from', source, '--to', target]);
    assert.equal(again.code, 1);
    assert.match(again.err.join('\n'), /--resume .* --force/);
    assert.equal(
      (await run(['migrate-data', '--from', source, '--to', target, '--resume'])).code,
      0,
    );
  });

  it('continues an interrupted copy, and copies PostgreSQL back to SQLite', async () => {
    const middle = await postgresUrl();
    assert.equal((await run(['migrate-data', '--from', source, '--to', middle])).code, 0);
    // An interrupted copy: the first batches reached the target, the rest did not.
    const back = `sqlite:${join(dir, 'back.db')}`;
    const from = await openCopyStore({ kind: 'postgres', url: middle });
    const to = await openCopyStore({ kind: 'sqlite', path: back.slice('sqlite:'.length) });
    await to.insert(await from.guestsAfter(null, 1_000), await from.attributesAfter(null, 300));
    await from.close();
    await to.close();
    const resumed = await run(['migrate-data', '--from', middle, '--to', back, '--resume']);
    assert.equal(resumed.code, 0, resumed.err.join('\n'));
    assert.ok(resumed.out.some((l) => /copied 149 guests/.test(l)));
    assert.deepEqual(await summary(back), await summary(source));
  });

  it('replaces the target with --force, and refuses bad usage', async () => {
    const other = `sqlite:${join(dir, 'other.db')}`;
    const storage = await openSqliteStorage({ database: other.slice('sqlite:'.length) });
    await createGuestmode({ storage }).createGuest({ stray: true });
    await storage.close();
    assert.equal((await run(['migrate-data', '--from', source, '--to', other])).code, 1);
    assert.equal((await run(['migrate-data', '--from', source, '--to', other, '--force'])).code, 0);
    assert.deepEqual(await summary(other), await summary(source));
    for (const argv of [
      ['--from', source],
      ['--to', other],
      ['--from', source, '--to', source],
      ['--from', 'mysql://x', '--to', other],
      ['--from', source, '--to', other, '--force', '--resume'],
    ]) {
      const refused = await run(['migrate-data', ...argv]);
      assert.equal(refused.code, 2, argv.join(' '));
    }
  });
});
