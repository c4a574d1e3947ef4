// Crash consistency: the real `guestmode serve` runs as a child process under a
// merge load and is killed with SIGKILL at a random moment (no shutdown hook, no flush), then
// restarted on the same database, several times, on SQLite and on PostgreSQL. Afterwards every
// acknowledged operation is durable, every operation whose answer was lost is all or nothing,
// no guest is merged twice or into a user who did not ask, and cart quantities are conserved.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, startTestIssuer, type TestIssuer, waitFor } from '@guestmode/testkit';
import { assert, bySize, type ChildService, report, seedFromEnv, spawnService } from './lib.js';
import { MergeWorkload, WORKLOAD_RULES } from './workload.js';

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`crash consistency: SIGKILL under a merge load (${kind})`, () => {
    let issuer: TestIssuer;
    let dir: string;
    let databaseUrl: string;
    let drop: () => Promise<void> = async () => undefined;
    let service: ChildService | undefined;
    before(async () => {
      issuer = await startTestIssuer();
      dir = mkdtempSync(join(tmpdir(), 'gm-crash-'));
      if (kind === 'sqlite') {
        databaseUrl = `sqlite:${join(dir, 'guestmode.db')}`;
      } else {
        const db = await createTestDatabase();
        databaseUrl = db.url;
        drop = () => db.drop();
      }
    });
    after(async () => {
      await service?.stop();
      await issuer?.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('acknowledged operations survive, lost answers are all or nothing, merges exactly once', async (t) => {
      const seed = seedFromEnv();
      const crashes = bySize({ short: 2, long: 6 });
      const workload = new MergeWorkload({
        guests: bySize({ short: 120, long: 300 }),
        users: bySize({ short: 8, long: 15 }),
        seed,
        issuer,
        faults: true,
      });
      const start = () =>
        spawnService({
          databaseUrl,
          issuer,
          mergeRules: WORKLOAD_RULES,
          rulesFile: join(dir, 'rules.json'),
          ...(service ? { port: service.port } : {}),
        });
      const started = Date.now();
      service = await start();
      await workload.setup(service.base);
      for (let crash = 0; crash < crashes; crash++) {
        const current: ChildService = service;
        const target = workload.acked + 40 + Math.floor(Math.random() * 120);
        let killed = false;
        const load = workload.run(current.base, 5000, 24, () => killed);
        await waitFor(() => workload.acked >= target, {
          timeoutMs: 120_000,
          message: 'merge load made no progress',
        });
        await current.kill();
        killed = true;
        assert.equal(current.process.signalCode, 'SIGKILL');
        await load;
        service = await start();
      }
      // The service is healthy again: a last clean round, then the invariants.
      await workload.run(service.base, 300, 24);
      const figures = await workload.verify(service.base);
      assert.doesNotMatch(service.stderr(), /internal_error|"level":50/, 'no errors after restart');
      report(t, `crash-${kind}`, {
        seed,
        crashes,
        ...figures,
        mergesWithLostAnswer: workload.figures.byAnswer['merge network-error'] ?? 0,
        networkErrors: Object.entries(workload.figures.byAnswer)
          .filter(([key]) => key.endsWith('network-error'))
          .reduce((total, [, count]) => total + count, 0),
        ms: Date.now() - started,
      });
    });
  });
}
