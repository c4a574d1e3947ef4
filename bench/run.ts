// `npm run bench`: Guestmode side by side with the machine's HTTP ceiling and with Better Auth's
// anonymous plugin, on SQLite and PostgreSQL, plus scale figures. One run, one scenario after
// another, one load generator (autocannon in its own process), 127.0.0.1 only.
//
//   npm run bench                 full run (about 10 minutes)
//   npm run bench -- --quick      every scenario for about a second, small scale numbers
//   npm run bench -- --profile    only Guestmode create, read and merge on SQLite, under --cpu-prof
//   npm run bench -- --only guestmode-sqlite,scale
//                                 the ceiling, the ES384 rate and the named parts only (for
//                                 work on one path; the results are written as
//                                 <timestamp>-partial, never as latest)
//   npm run bench -- --out <dir>  where the results go (default bench/results)
//
// Results: a Markdown table on stdout, <out>/<timestamp>.{md,json} and latest.{md,json}. The
// scenarios live in bench/src/suites/, one file per system; this file only puts them in order.
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startPostgres, startTestIssuer } from '@guestmode/testkit';
import { type BenchContext, log, openContext } from './src/context.js';
import { createDatabase, postgresSettings } from './src/db.js';
import { buildRelease } from './src/release.js';
import { buildReport, renderMarkdown, writeResults } from './src/report.js';
import { AUDIENCE, CONNECTIONS, PARTS, type Part, settingsFor } from './src/settings.js';
import { runBetterAuthSuite } from './src/suites/better-auth.js';
import { runCeiling } from './src/suites/ceiling.js';
import { runEs384 } from './src/suites/es384.js';
import { type GuestmodeStack, runGuestmodeSuite } from './src/suites/guestmode.js';
import { runTwoInstances } from './src/suites/instances.js';
import { runProfiles } from './src/suites/profile.js';
import { runScale } from './src/suites/scale.js';
import type { ScaleResult, ScenarioResult } from './src/types.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

export interface Options {
  readonly quick: boolean;
  readonly profile: boolean;
  /** Folder of the result files. */
  readonly out: string;
  /** The parts to run besides the ceiling; every part when undefined. */
  readonly only: readonly Part[] | undefined;
}

/** The command line's options; a `TypeError` names the option that is wrong. */
export function parseOptions(args: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...args],
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      out: { type: 'string', default: join(ROOT, 'bench/results') },
      only: { type: 'string' },
    },
  });
  const only = values.only?.split(',').map((x) => x.trim());
  for (const part of only ?? []) {
    if (!(PARTS as readonly string[]).includes(part)) {
      throw new TypeError(`--only takes a list of ${PARTS.join(', ')}; not "${part}"`);
    }
  }
  return {
    quick: values.quick,
    profile: values.profile,
    out: resolve(values.out),
    only: only as Part[] | undefined,
  };
}

/** Runs the benchmark; resolves with the exit code (1 when a row check failed). */
export async function main(options: Options): Promise<number> {
  const settings = settingsFor(options);
  const ctx = openContext(ROOT, settings);
  const stopOn = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping`);
    ctx.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOn);
  process.once('SIGTERM', stopOn);
  const timer = setTimeout(() => {
    log('the run exceeded its time limit');
    ctx.close().finally(() => process.exit(1));
  }, settings.runLimitMs);
  timer.unref();
  try {
    return await run(ctx, options);
  } catch (error) {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    return 1;
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', stopOn);
    process.off('SIGTERM', stopOn);
    await ctx.close();
  }
}

async function run(ctx: BenchContext, options: Options): Promise<number> {
  const startedAt = new Date();
  const loadBefore = loadavg()[0]!;
  log(`${options.quick ? 'quick' : 'full'} run; building the release build of core and server`);
  const release = buildRelease(ROOT);
  const issuer = await startTestIssuer({ alg: 'ES384', audience: AUDIENCE });
  ctx.onClose(() => issuer.close());
  const stack: GuestmodeStack = { release, issuer };
  if (options.profile) {
    await runProfiles(ctx, stack, join(options.out, 'profiles'));
    return 0;
  }

  log('starting PostgreSQL');
  const postgres = await startPostgres({ durable: true });
  ctx.onClose(() => postgres.stop());
  const pgDescription = await postgresSettings(postgres.url);
  log(pgDescription);
  const runs = (part: Part) => options.only === undefined || options.only.includes(part);
  const sqlite = (file: string) => `sqlite:${join(ctx.work, file)}`;
  const database = (name: string) => createDatabase(postgres.url, name);

  // The ceiling opens, sits between the SQLite and PostgreSQL runs, and closes the run; the
  // ES384 verification rate (the merge's own ceiling) follows its first round.
  const scenarios: ScenarioResult[] = [await runCeiling(ctx, 1), await runEs384(ctx, stack)];
  if (runs('guestmode-sqlite')) {
    scenarios.push(...(await runGuestmodeSuite(ctx, stack, 'sqlite', sqlite('guestmode.db'))));
  }
  scenarios.push(await runCeiling(ctx, 2));
  if (runs('guestmode-postgres')) {
    const url = await database('guestmode_bench');
    scenarios.push(...(await runGuestmodeSuite(ctx, stack, 'postgres', url)));
  }
  if (runs('guestmode-postgres-2x')) {
    const url = await database('guestmode_bench_2x');
    scenarios.push(...(await runTwoInstances(ctx, stack, url)));
  }
  if (runs('better-auth-sqlite')) {
    scenarios.push(...(await runBetterAuthSuite(ctx, 'sqlite', sqlite('better-auth.db'))));
  }
  if (runs('better-auth-postgres')) {
    const url = await database('better_auth_bench');
    scenarios.push(...(await runBetterAuthSuite(ctx, 'postgres', url)));
  }
  scenarios.push(await runCeiling(ctx, 3));

  const scale: ScaleResult = runs('scale')
    ? await runScale(ctx, stack, postgres.url)
    : { rows: { passed: true, detail: 'not run (--only)' } };

  const report = buildReport({
    startedAt,
    loadBefore,
    settings: ctx.settings,
    connections: CONNECTIONS,
    postgres: pgDescription,
    scenarios,
    scale,
  });
  const markdown = renderMarkdown(report);
  process.stdout.write(`${markdown}\n`);
  const partial = options.only !== undefined;
  const written = writeResults(options.out, report, markdown, { partial });
  log(`wrote ${written}${partial ? '' : ' and latest.{md,json}'}`);
  return report.allRowChecksPassed ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let options: Options | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
  }
  if (options) {
    main(options).then((code) => {
      process.exitCode = code;
    });
  }
}
