// Exactly once under concurrency: 200 guests, 1,000 operations in flight at once
// (guest writes and reads, merges of the same guests into random users, previews, user writes)
// on SQLite and PostgreSQL, then every guest is active with all its acknowledged writes or
// merged exactly once into exactly one user, and cart quantities are conserved.
import { after, before, describe, it } from 'node:test';
import { startTestIssuer, type TestIssuer } from '@guestmode/testkit';
import { type Service, startService } from '../harness.js';
import { bySize, report, seedFromEnv } from './lib.js';
import { MergeWorkload, WORKLOAD_RULES } from './workload.js';

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`exactly once under concurrency (${kind})`, () => {
    let issuer: TestIssuer;
    let s: Service;
    before(async () => {
      issuer = await startTestIssuer();
      s = await startService({
        kind,
        issuer,
        mergeRules: WORKLOAD_RULES,
        config: { rateLimit: false },
      });
    });
    after(async () => {
      await s?.close();
      await issuer?.close();
    });

    it('1,000 concurrent operations: nothing lost, nothing merged twice, quantities conserved', async (t) => {
      const seed = seedFromEnv();
      const rounds = bySize({ short: 1, long: 10 });
      const guests = 200;
      const operations = 1000;
      const workload = new MergeWorkload({
        guests: guests * rounds,
        users: 10 * rounds,
        seed,
        issuer,
      });
      const started = Date.now();
      await workload.setup(s.base);
      // All at once: every operation is in flight before the first answer arrives.
      for (let round = 0; round < rounds; round++) {
        await workload.run(s.base, operations, operations);
      }
      const figures = await workload.verify(s.base);
      report(t, `concurrency-${kind}`, {
        seed,
        ...figures,
        ms: Date.now() - started,
        byAnswer: workload.figures.byAnswer,
      });
    });
  });
}
