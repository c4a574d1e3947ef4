// Several instances, one database: three real `guestmode serve` processes on one embedded
// PostgreSQL, a merge load spread over all three (the same guests merged through different
// instances), one instance SIGKILLed and restarted during it. Afterwards every guest is active
// with its acknowledged writes or merged exactly once, quantities are conserved, and every
// instance reports the same funnel totals, which match the guests the load made and merged.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, startTestIssuer, type TestIssuer, waitFor } from '@guestmode/testkit';
import {
  assert,
  bySize,
  type ChildService,
  call,
  report,
  SPAWNED_ADMIN_TOKEN,
  seedFromEnv,
  spawnService,
} from './lib.js';
import { MergeWorkload, WORKLOAD_RULES } from './workload.js';

type Totals = { created: number; merged: number; expired: number; active: number };

describe('several instances on one PostgreSQL database', () => {
  let issuer: TestIssuer;
  let dir: string;
  let databaseUrl: string;
  let drop: () => Promise<void> = async () => undefined;
  const services: (ChildService | undefined)[] = [];
  before(async () => {
    issuer = await startTestIssuer();
    dir = mkdtempSync(join(tmpdir(), 'gm-instances-'));
    const db = await createTestDatabase();
    databaseUrl = db.url;
    drop = () => db.drop();
  });
  after(async () => {
    await Promise.all(services.map((s) => s?.stop()));
    await issuer?.close();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('merges exactly once across three instances, through a SIGKILL, with one set of totals', async (t) => {
    const seed = seedFromEnv();
    const start = (i: number, port?: number) =>
      spawnService({
        databaseUrl,
        issuer,
        mergeRules: WORKLOAD_RULES,
        rulesFile: join(dir, `rules-${i}.json`),
        ...(port === undefined ? {} : { port }),
      });
    // Started together: the schema migration is serialised by its advisory lock.
    services.push(...(await Promise.all([0, 1, 2].map((i) => start(i)))));
    const workload = new MergeWorkload({
      guests: bySize({ short: 150, long: 600 }),
      users: bySize({ short: 8, long: 20 }),
      seed,
      issuer,
      faults: true,
    });
    const started = Date.now();
    await workload.setup(services[0]!.base);
    // Round robin over the instances that are up: one guest's operations reach all three.
    let turn = 0;
    const next = () => {
      for (let tries = 0; tries < services.length; tries++) {
        const service = services[turn++ % services.length];
        if (service) return service.base;
      }
      throw new Error('no instance is up');
    };
    const crashes = bySize({ short: 1, long: 4 });
    for (let crash = 0; crash < crashes; crash++) {
      const victim = 1 + (crash % 2);
      const target = workload.acked + 60 + Math.floor(Math.random() * 100);
      let stopped = false;
      const load = workload.run(next, 5000, 30, () => stopped);
      await waitFor(() => workload.acked >= target, {
        timeoutMs: 120_000,
        message: 'merge load made no progress',
      });
      const killed = services[victim]!;
      services[victim] = undefined;
      await killed.kill();
      assert.equal(killed.process.signalCode, 'SIGKILL');
      // The load goes on on the other two while the victim restarts on its port.
      services[victim] = await start(victim, killed.port);
      stopped = true;
      await load;
    }
    await workload.run(next, 300, 30);
    const figures = await workload.verify(services[0]!.base);

    // Every instance reads the same totals from the database (each caches them for up to 5 s).
    const expected = {
      created: workload.guests.length,
      merged: figures.mergedGuests!,
      active: figures.activeGuests!,
      expired: 0,
    };
    const totals = async (s: ChildService) =>
      (
        await call<{ totals: Totals }>(s.base, 'GET', '/v1/stats', {
          headers: { authorization: `Bearer ${SPAWNED_ADMIN_TOKEN}` },
        })
      ).body.totals;
    let seen: Totals[] = [];
    await waitFor(
      async () => {
        seen = await Promise.all(services.map((s) => totals(s!)));
        return seen.every((x) => JSON.stringify(x) === JSON.stringify(seen[0]));
      },
      { timeoutMs: 30_000, intervalMs: 500, message: 'the instances report different totals' },
    );
    for (const s of seen) {
      assert.deepEqual(
        { created: s.created, merged: s.merged, active: s.active, expired: s.expired },
        expected,
      );
    }
    for (const s of services) {
      assert.doesNotMatch(s!.stderr(), /internal_error|"level":50/, 'no errors');
    }
    report(t, 'instances-postgres', {
      seed,
      crashes,
      ...figures,
      ms: Date.now() - started,
      byAnswer: workload.figures.byAnswer,
    });
  });
});
