// Three real `guestmode serve` processes on one PostgreSQL database share what must be shared:
// the guest-creation budget of a client address is one budget, not three, and an expired guest
// is purged by one of them, not raced over by all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, startTestIssuer, type TestIssuer, waitFor } from '@guestmode/testkit';
import pg from 'pg';
import { assert, type ChildService, call, SPAWNED_ADMIN_TOKEN, spawnService } from './lib.js';

const BUDGET = 9;

describe('three processes on one PostgreSQL database', () => {
  let issuer: TestIssuer;
  let dir: string;
  let databaseUrl: string;
  let drop: () => Promise<void> = async () => undefined;
  let services: ChildService[] = [];
  before(async () => {
    issuer = await startTestIssuer();
    dir = mkdtempSync(join(tmpdir(), 'gm-shared-'));
    const db = await createTestDatabase();
    databaseUrl = db.url;
    drop = () => db.drop();
    services = await Promise.all(
      [0, 1, 2].map((i) =>
        spawnService({
          databaseUrl,
          issuer,
          mergeRules: {},
          rulesFile: join(dir, `rules-${i}.json`),
          env: { GUESTMODE_RATE_LIMIT: `${BUDGET}/1h`, GUESTMODE_PURGE_INTERVAL: '1s' },
        }),
      ),
    );
  });
  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await issuer?.close();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const purgedBy = async (s: ChildService): Promise<number> => {
    const { text } = await call(s.base, 'GET', '/metrics', {
      headers: { authorization: `Bearer ${SPAWNED_ADMIN_TOKEN}` },
    });
    const line = /^guestmode_guests_purged_total (\d+)$/m.exec(text);
    return line ? Number(line[1]) : 0;
  };

  it('hold one guest-creation budget per address between them', async () => {
    const answers = [];
    // Round robin, one at a time, so the count is exact: three budgets would let 3 × BUDGET in.
    for (let i = 0; i < 3 * BUDGET; i++) {
      answers.push(await call(services[i % 3]!.base, 'POST', '/v1/guests'));
    }
    const created = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 429);
    assert.equal(created.length, BUDGET);
    assert.equal(refused.length, 2 * BUDGET);
    for (const answer of refused) {
      assert.equal((answer.body as { error: { code: string } }).error.code, 'rate_limited');
      assert.ok(Number(answer.headers.get('retry-after')) > 0, 'Retry-After on every 429');
    }
    // Every instance refused some: the budget spent on the others counted on each.
    for (let i = 0; i < 3; i++) {
      assert.ok(answers.some((a, n) => n % 3 === i && a.status === 429));
    }
  });

  it('purge expired guests once: one instance deletes them, the others find nothing', async () => {
    assert.deepEqual(await Promise.all(services.map(purgedBy)), [0, 0, 0]);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rowCount } = await client.query(
        'UPDATE gm_guests SET expires_at = $1 WHERE merged_into IS NULL',
        [Date.now() - 60_000],
      );
      assert.equal(rowCount, BUDGET);
      await waitFor(
        async () => {
          const left = await client.query('SELECT count(*)::int AS n FROM gm_guests');
          return left.rows[0].n === 0;
        },
        { timeoutMs: 30_000, intervalMs: 200, message: 'the expired guests were not purged' },
      );
    } finally {
      await client.end();
    }
    // Let every instance run a few more rounds over the now empty table.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const purged = await Promise.all(services.map(purgedBy));
    assert.equal(
      purged.reduce((a, b) => a + b, 0),
      BUDGET,
      `purged per instance: ${purged.join(', ')}`,
    );
    assert.equal(
      purged.filter((n) => n > 0).length,
      1,
      `purged per instance: ${purged.join(', ')}`,
    );
  });
});
