// The ceiling: a Fastify 5 hello world, the service's HTTP stack with nothing behind it. Each
// round starts its own server, so a round measures the machine at that moment.
import { join } from 'node:path';
import type { BenchContext } from '../context.js';
import { baseOf, defineScenario, failed, runScenario, type Subject } from '../scenario.js';
import type { ScenarioResult } from '../types.js';

const SUBJECT: Subject = { system: 'ceiling', db: '-' };

export const ceilingScenario = (url: string, round: number) =>
  defineScenario({
    name: `hello-${round}`,
    request: `GET / (Fastify 5 hello world JSON), round ${round} of 3`,
    prepare: async () => ({ load: { url, method: 'GET', path: '/' }, state: undefined }),
    check: () => ({ passed: true, detail: 'no rows (no database)' }),
  });

/**
 * One round of the ceiling. A run measures three (first, after Guestmode on SQLite, last): on a
 * shared machine one round can land in a busy minute, so the ratios use their median.
 */
export async function runCeiling(ctx: BenchContext, round: number): Promise<ScenarioResult> {
  try {
    const server = await ctx.serve([join(ctx.root, 'bench/servers/ceiling.mjs')], process.env, '/');
    try {
      return await runScenario(ctx, SUBJECT, ceilingScenario(server.url, round));
    } finally {
      await ctx.stop(server);
    }
  } catch (error) {
    return failed(baseOf(SUBJECT, ceilingScenario('', round)), error);
  }
}
