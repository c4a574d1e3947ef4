// Better Auth's anonymous plugin on one database, the same two operations as Guestmode's
// create and read: sign in anonymously, and get the session back.

import { join } from 'node:path';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import type { BenchContext } from '../context.js';
import { type BenchDb, type Dialect, withBenchDb } from '../db.js';
import { createAnonymousSessions, getJson } from '../fixtures.js';
import { defineScenario, runScenarios, type Scenario, signed } from '../scenario.js';
import type { ScenarioResult } from '../types.js';

/** The two scenarios against the server at `url`, counting rows through `bench`. */
export function betterAuthScenarios(ctx: BenchContext, url: string, bench: BenchDb): Scenario[] {
  const count = () => bench.betterAuthRows();
  return [
    defineScenario({
      name: 'create',
      request: 'POST /api/auth/sign-in/anonymous',
      baseline: 'settled',
      prepare: async () => ({
        load: { url, method: 'POST', path: '/api/auth/sign-in/anonymous' },
        state: undefined,
      }),
      count,
      check: ({ load, before, after }) => {
        const users = after.users - before.users;
        const sessions = after.sessions - before.sessions;
        return {
          passed: users === load.ok && sessions === load.ok,
          detail: `users ${signed(users)}, sessions ${signed(sessions)} for ${load.ok} × 2xx`,
        };
      },
    }),
    defineScenario({
      name: 'read',
      request: 'GET /api/auth/get-session, session cookie',
      baseline: 'before-warm-up',
      prepare: async () => {
        const cookies = await createAnonymousSessions(url, ctx.settings.baSessions);
        const session = (await getJson(`${url}/api/auth/get-session`, {
          cookie: cookies[0]!,
        })) as { user?: { isAnonymous?: boolean } } | null;
        if (!session?.user?.isAnonymous) throw new Error('bench: get-session found no session');
        return {
          load: {
            url,
            method: 'GET',
            path: '/api/auth/get-session',
            rotate: cookies.map((cookie) => ({ cookie })),
          },
          state: undefined,
        };
      },
      count,
      check: ({ load, before, after }) => {
        const bytes = load.requests > 0 ? load.bytes / load.requests : 0;
        // An unknown session answers 200 `null`: the bytes per answer show real sessions.
        return {
          passed: after.users === before.users && after.sessions === before.sessions && bytes > 300,
          detail: `users ${signed(after.users - before.users)}, sessions ${signed(after.sessions - before.sessions)}; ${Math.round(bytes)} B per answer (session + user)`,
        };
      },
    }),
  ];
}

/** Starts Better Auth on `databaseUrl` (`sqlite:<path>` or postgres://) and runs its scenarios. */
export async function runBetterAuthSuite(
  ctx: BenchContext,
  db: Dialect,
  databaseUrl: string,
): Promise<ScenarioResult[]> {
  return withBenchDb(databaseUrl, async (bench) => {
    const server = await ctx.serve(
      [join(ctx.root, 'bench/servers/better-auth.mjs')],
      {
        PATH: process.env.PATH,
        BENCH_DATABASE: databaseUrl,
        BENCH_SQLITE_DRIVER: loadSqliteDriver().path,
      },
      '/api/auth/ok',
    );
    try {
      return await runScenarios(
        ctx,
        { system: 'better-auth', db },
        betterAuthScenarios(ctx, server.url, bench),
      );
    } finally {
      await ctx.stop(server);
    }
  });
}
