// Scale-out on PostgreSQL: two `guestmode serve` processes on one database, the load generator
// sending to both at once (one autocannon each, the connections split evenly), for the create
// and the merge. The rows beside them are the single instance's, from the same database type.
import type { BenchContext } from '../context.js';
import { withBenchDb } from '../db.js';
import { runScenarios, type Scenario } from '../scenario.js';
import type { ScenarioResult } from '../types.js';
import { type GuestmodeStack, guestmodeEnv, guestmodeScenarios } from './guestmode.js';

/** The scenarios that run on two instances; each row is named `<scenario>-2x`. */
export const TWO_INSTANCE_SCENARIOS = ['create', 'merge'] as const;

export async function runTwoInstances(
  ctx: BenchContext,
  stack: GuestmodeStack,
  databaseUrl: string,
): Promise<ScenarioResult[]> {
  return withBenchDb(databaseUrl, async (bench) => {
    const env = guestmodeEnv(ctx, stack.issuer.issuer, databaseUrl);
    // One after the other: both would create the tables at once otherwise.
    const first = await ctx.serve([stack.release.cli, 'serve'], env, '/healthz');
    try {
      const second = await ctx.serve([stack.release.cli, 'serve'], env, '/healthz');
      try {
        const urls = [first.url, second.url];
        const names = TWO_INSTANCE_SCENARIOS as readonly string[];
        const scenarios: Scenario[] = guestmodeScenarios(ctx, stack, 'postgres', first.url, bench)
          .filter((s) => names.includes(s.name))
          .map((s) => ({
            ...s,
            name: `${s.name}-2x`,
            request: `${s.request}; two instances, half the connections each`,
            prepare: async () => {
              const prepared = await s.prepare();
              return { ...prepared, load: { ...prepared.load, urls } };
            },
          }));
        return await runScenarios(ctx, { system: 'guestmode', db: 'postgres' }, scenarios);
      } finally {
        await ctx.stop(second);
      }
    } finally {
      await ctx.stop(first);
    }
  });
}
