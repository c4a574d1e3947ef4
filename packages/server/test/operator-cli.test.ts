// `guestmode guests list|show|delete` and `guestmode users export|delete`: the operator's view of
// the data. Secrets never appear in the output.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createGuestmode, type EventRecord } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { main } from '../src/cli.js';
import { assert } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'guestmode-operator-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[], env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('operators list, show and delete guests, and export and erase users', async () => {
  const file = join(dir, 'gm.db');
  const env = { GUESTMODE_DATABASE_URL: `sqlite:${file}` };
  const engine = createGuestmode({
    storage: await openSqliteStorage({ database: file }),
    purge: { enabled: false },
  });
  const kept = await engine.createGuest({ theme: 'dark' });
  const merged = await engine.createGuest({ cart: [{ id: 'b1', quantity: 1 }] });
  await engine.merge({ guestToken: merged.token, userId: 'user-7' });
  await engine.close();
  const secret = (token: string) => token.slice(token.indexOf('.') + 1);

  const list = await run(['guests', 'list'], env);
  assert.equal(list.code, 0, list.err);
  const rows = list.out
    .split('\n')
    .map((line) => JSON.parse(line) as { id: string; state: string });
  assert.deepEqual(
    rows.map((r) => [r.id, r.state]).sort(),
    [
      [kept.guest.id, 'active'],
      [merged.guest.id, 'merged'],
    ].sort(),
  );
  const shown = await run(['guests', 'show', kept.guest.id], env);
  assert.equal(shown.code, 0, shown.err);
  assert.deepEqual((JSON.parse(shown.out) as { attributes: unknown }).attributes, {
    theme: 'dark',
  });
  for (const output of [list.out, shown.out]) {
    assert.ok(!output.includes(secret(kept.token)) && !output.includes(secret(merged.token)));
  }

  const exported = await run(['users', 'export', 'user-7'], env);
  assert.equal(exported.code, 0, exported.err);
  const data = JSON.parse(exported.out) as { attributes: unknown; merges: { guestId: string }[] };
  assert.deepEqual(data.attributes, { cart: [{ id: 'b1', quantity: 1 }] });
  assert.deepEqual(
    data.merges.map((m) => m.guestId),
    [merged.guest.id],
  );

  assert.equal((await run(['guests', 'delete', kept.guest.id], env)).code, 0);
  assert.equal((await run(['guests', 'show', kept.guest.id], env)).code, 1);
  const erased = await run(['users', 'delete', 'user-7'], env);
  assert.equal(erased.code, 0, erased.err);
  assert.match(erased.out, /1 attributes, 1 merge records/);
  assert.equal((await run(['guests', 'list'], env)).out, '', 'deleted means gone');

  assert.equal((await run(['guests', 'show'], env)).code, 2);
  assert.equal((await run(['users', 'rename', 'x'], env)).code, 2);
  const help = await run(['--help'], env);
  assert.match(help.out, /^ {2}users +export or erase/m);
  assert.match((await run(['users', '--help'], env)).out, /guestmode users export <sub>/);
});

test('operators list outbox events by state and resend one, never printing the secret', async () => {
  const file = join(dir, 'events.db');
  const secret = `whsec_${Buffer.from('0123456789abcdef0123').toString('base64')}`;
  const env = {
    GUESTMODE_DATABASE_URL: `sqlite:${file}`,
    // Port 9 on loopback, refused by default: the command only writes, it never delivers.
    GUESTMODE_WEBHOOK_URL: 'http://127.0.0.1:9/hooks',
    GUESTMODE_WEBHOOK_SECRET: secret,
  };
  const erased = await run(['users', 'delete', 'user-9'], env);
  assert.equal(erased.code, 0, erased.err);
  const pending = await run(['events', 'list', '--state', 'pending'], env);
  assert.equal(pending.code, 0, pending.err);
  const [event] = pending.out.split('\n').map((line) => JSON.parse(line) as EventRecord);
  assert.equal(event?.type, 'user.deleted');
  assert.deepEqual((event!.payload as { data: unknown }).data, { userId: 'user-9' });
  assert.equal(event?.attempts, 0, 'one-shot commands do not deliver');
  const none = await run(['events', 'list', '--state', 'dead'], env);
  assert.equal(none.out, '');
  const resent = await run(['events', 'resend', event!.id], env);
  assert.equal(resent.code, 0, resent.err);
  const missing = await run(['events', 'resend', 'evt_nothing'], env);
  assert.equal(missing.code, 1);
  assert.equal((await run(['events', 'list', '--state', 'lost'], env)).code, 2);
  assert.equal((await run(['events', 'resend'], env)).code, 2);
  const help = await run(['events', '--help'], env);
  assert.match(help.out, /guestmode events resend <id>/);
  for (const output of [erased, pending, resent, help]) {
    assert.ok(!`${output.out}${output.err}`.includes(secret));
  }
});
