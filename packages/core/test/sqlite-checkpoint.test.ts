// Background checkpoints: the WAL is copied back into the database by a worker thread, not by
// whichever commit crosses SQLite's threshold on the event loop.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'gm-sqlite-checkpoint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Writes ~2 MB of guests in one commit (fewer pages than SQLite's own threshold of 1,000), then
 * watches the database file for up to `waitMs`: it grows once the WAL is copied into it.
 */
async function writeAndWatch(
  backgroundCheckpoints: boolean,
  waitMs: number,
): Promise<{ before: number; after: number }> {
  const file = join(dir, `checkpoint-${backgroundCheckpoints}.db`);
  const guestmode = createGuestmode({
    storage: await openSqliteStorage({ database: file, backgroundCheckpoints }),
  });
  const before = statSync(file).size;
  const value = 'x'.repeat(4_000);
  await Promise.all(Array.from({ length: 400 }, () => guestmode.createGuest({ note: value })));
  const deadline = Date.now() + waitMs;
  let after = statSync(file).size;
  while (after < before + 1_000_000 && Date.now() < deadline) {
    await sleep(50);
    after = statSync(file).size;
  }
  await guestmode.close();
  return { before, after };
}

test('a worker copies the WAL into the database soon after a commit', async () => {
  // Polled rather than timed: the thread starts and checkpoints within ~0.2 s on an idle
  // machine, later on a loaded one.
  const { before, after } = await writeAndWatch(true, 10_000);
  assert.ok(after > before + 1_000_000, `database file ${before} -> ${after} bytes`);
});

test('without it, a commit below the threshold stays in the WAL', async () => {
  const { before, after } = await writeAndWatch(false, 500);
  assert.ok(after < before + 100_000, `database file ${before} -> ${after} bytes`);
});

test('backgroundCheckpoints must be a boolean, checked before anything is opened', async () => {
  const file = join(dir, 'bad.db');
  await assert.rejects(
    openSqliteStorage({ database: file, backgroundCheckpoints: 'yes' as unknown as boolean }),
    TypeError,
  );
  assert.equal(existsSync(file), false);
});

test('a file that is not a database is refused and leaves no thread behind', async () => {
  const file = join(dir, 'not-a-database.db');
  writeFileSync(file, 'x'.repeat(8_192));
  await assert.rejects(openSqliteStorage({ database: file }));
  // The directory can go at once: nothing holds the file any more.
  rmSync(file);
});
