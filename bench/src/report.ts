// The run's report: assembled from the parts' results, judged against the targets, rendered as
// Markdown, and written as bench/results/<timestamp>.{md,json} (and latest.{md,json} for a full
// set of parts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Settings } from './settings.js';
import type { BenchReport, ScaleResult, ScenarioResult, Target } from './types.js';

const int = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US');
const ms = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? '—' : n < 10 ? n.toFixed(1) : String(Math.round(n));
const mb = (n: number | undefined) => (n === undefined ? '—' : `${(n / 2 ** 20).toFixed(0)} MiB`);
const ratio = (n: number | undefined) =>
  n === undefined || !Number.isFinite(n) ? '—' : n >= 10 ? `${n.toFixed(0)}×` : `${n.toFixed(2)}×`;
const pct = (n: number | undefined) =>
  n === undefined || !Number.isFinite(n) ? '—' : `${Math.round(n * 100)}%`;

function find(
  report: BenchReport,
  system: ScenarioResult['system'],
  db: ScenarioResult['db'],
  scenario: string,
): ScenarioResult | undefined {
  const s = report.scenarios.find(
    (x) => x.system === system && x.db === db && x.scenario === scenario,
  );
  return s && !s.error ? s : undefined;
}

/** Share of the ceiling each Guestmode scenario should reach, per database (none for merge). */
const CEILING_GOALS = {
  sqlite: { create: 0.4, read: 0.6, write: 0.4 },
  postgres: { create: 0.25, read: 0.4, write: 0.2 },
} as const;

/** Every ratio the report gives, each with its target where there is one. */
export function targetsOf(report: BenchReport): Target[] {
  const targets: Target[] = [];
  const ceilings = report.scenarios
    .filter((x) => x.system === 'ceiling' && !x.error)
    .map((x) => x.load.rps)
    .sort((a, b) => a - b);
  // The median of the ceiling's rounds (the middle one of three).
  const ceiling = ceilings[Math.floor((ceilings.length - 1) / 2)];
  const judge = (ok: boolean | undefined) => (report.quick ? undefined : ok);
  const rps = (system: ScenarioResult['system'], db: ScenarioResult['db'], name: string) =>
    find(report, system, db, name)?.load.rps;
  const over = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b ? a / b : undefined;
  for (const db of ['sqlite', 'postgres'] as const) {
    for (const name of ['create', 'read', 'write', 'merge'] as const) {
      const goal = name === 'merge' ? undefined : CEILING_GOALS[db][name];
      const r = over(rps('guestmode', db, name), ceiling);
      targets.push({
        what: `Guestmode ${name} ÷ ceiling (${db}; median of the ceiling's rounds)`,
        value: pct(r),
        target: goal === undefined ? '(no target)' : `≥ ${goal * 100}%`,
        met: goal !== undefined && r !== undefined ? judge(r >= goal) : undefined,
      });
    }
  }
  const merge = find(report, 'guestmode', 'sqlite', 'merge');
  targets.push({
    what: 'Guestmode merge (sqlite): req/s and p99',
    value: merge ? `${int(merge.load.rps)}/s, p99 ${ms(merge.load.p99)} ms` : '—',
    target: '≥ 2,000/s with p99 < 50 ms',
    met: merge ? judge(merge.load.rps >= 2000 && merge.load.p99 < 50) : undefined,
  });
  const es384 = rps('machine', '-', 'es384-verify');
  for (const db of ['sqlite', 'postgres'] as const) {
    const r = over(rps('guestmode', db, 'merge'), es384);
    targets.push({
      what: `Guestmode merge ÷ ES384 verifications per second (${db}; one token check per merge)`,
      value: pct(r),
      target: db === 'sqlite' ? '≥ 80%' : '(no target)',
      met: db === 'sqlite' && r !== undefined ? judge(r >= 0.8) : undefined,
    });
  }
  const pgMerge = find(report, 'guestmode', 'postgres', 'merge');
  const pgShare = over(pgMerge?.load.rps, merge?.load.rps);
  targets.push({
    what: 'Guestmode merge postgres ÷ sqlite, and postgres p99',
    value: pgMerge ? `${pct(pgShare)}, p99 ${ms(pgMerge.load.p99)} ms` : '—',
    target: '≥ 70% with p99 < 100 ms',
    met:
      pgMerge && pgShare !== undefined
        ? judge(pgShare >= 0.7 && pgMerge.load.p99 < 100)
        : undefined,
  });
  for (const name of ['create', 'merge'] as const) {
    const r = over(rps('guestmode', 'postgres', `${name}-2x`), rps('guestmode', 'postgres', name));
    targets.push({
      what: `Guestmode ${name} on two instances ÷ one (postgres, same machine)`,
      value: ratio(r),
      target: '(no target)',
      met: undefined,
    });
  }
  for (const db of ['sqlite', 'postgres'] as const) {
    const goal = db === 'sqlite' ? 20 : 10;
    for (const name of ['create', 'read'] as const) {
      const r = over(rps('guestmode', db, name), rps('better-auth', db, name));
      targets.push({
        what: `Guestmode ${name} ÷ Better Auth ${name === 'create' ? 'sign-in/anonymous' : 'get-session'} (${db})`,
        value: ratio(r),
        target: `≥ ${goal}×`,
        met: r === undefined ? undefined : judge(r >= goal),
      });
    }
  }
  const scale = report.scale;
  targets.push({
    what: `Purge of ${int(scale.guests)} expired guests (sqlite)`,
    value: scale.purgeSeconds === undefined ? '—' : `${scale.purgeSeconds.toFixed(1)} s`,
    target: '< 20 s for 1,000,000',
    met: scale.purgeSeconds === undefined ? undefined : judge(scale.purgeSeconds < 20),
  });
  const during = scale.readP99DuringPurge;
  const idle = scale.readP99Idle;
  targets.push({
    what: 'read p99 during the purge ÷ idle (sqlite)',
    value:
      during !== undefined && idle !== undefined
        ? `${ms(during)} ms ÷ ${ms(idle)} ms = ${ratio(during / idle)}`
        : '—',
    target: '≤ 2×',
    met:
      during === undefined || idle === undefined || Number.isNaN(during)
        ? undefined
        : judge(during <= 2 * idle),
  });
  return targets;
}

const mark = (met: boolean | undefined) => (met === undefined ? '—' : met ? 'met' : '**not met**');

/** The whole report as Markdown. */
export function renderMarkdown(report: BenchReport): string {
  const lines: string[] = [];
  const m = report.machine;
  lines.push(
    `# Guestmode benchmark${report.quick ? ' (quick mode: smoke test, not for comparison)' : ''}`,
  );
  lines.push('');
  lines.push(
    `${report.startedAt} → ${report.finishedAt}; ${m.cpus} × ${m.cpu}, ${m.memory}, Node ${m.node}, ${m.platform}; load average ${m.loadAverageBefore} before, ${m.loadAverageAfter} after.`,
  );
  lines.push('');
  const s = report.settings;
  lines.push(
    `Load: ${s.loadGenerator}, ${s.connections} connections, ${s.warmupSeconds} s warm-up then about ${s.secondsPerScenario} s (an exact request count, so rows can be checked exactly). Guestmode: ${s.guestmodeBuild}; ${s.guestmodeConfig}. SQLite: ${s.sqlite}. ${s.postgres}; ${s.postgresPool}. Better Auth: ${s.betterAuth}.`,
  );
  lines.push('');
  lines.push(
    '| system | db | scenario | req/s | p50 ms | p99 ms | 2xx / requests | non-2xx + errors | rows before → after |',
  );
  lines.push('|---|---|---|--:|--:|--:|--:|--:|---|');
  for (const r of report.scenarios) {
    const l = r.load;
    lines.push(
      `| ${r.system} | ${r.db} | ${r.scenario} | ${r.error ? 'failed' : int(l.rps)} | ${ms(l.p50)} | ${ms(l.p99)} | ${int(l.ok)} / ${int(l.requests)} | ${int(l.non2xx + l.errors)} | ${r.rows.passed ? 'ok' : '**FAILED**'}: ${r.rows.detail} |`,
    );
  }
  lines.push('');
  lines.push('Requests:');
  for (const r of report.scenarios) lines.push(`- ${r.system} ${r.db} ${r.scenario}: ${r.request}`);
  lines.push('');
  const sc = report.scale;
  lines.push('## Scale');
  lines.push('');
  lines.push('| measure | value |');
  lines.push('|---|--:|');
  lines.push(
    `| expired guests inserted (SQLite, typical 3-line cart each) | ${int(sc.guests)} in ${sc.insertSeconds?.toFixed(1) ?? '—'} s |`,
  );
  lines.push(
    `| purge by the server's timer (first to last batch commit) | ${sc.purgeSeconds?.toFixed(1) ?? '—'} s for ${int(sc.purged)} guests |`,
  );
  lines.push(
    `| read at a fixed ${int(sc.readRate)} req/s, 10 connections: p50 / p99 idle | ${ms(sc.readP50Idle)} / ${ms(sc.readP99Idle)} ms (${int(sc.readSamplesIdle)} answers) |`,
  );
  lines.push(
    `| same, during the purge | ${ms(sc.readP50DuringPurge)} / ${ms(sc.readP99DuringPurge)} ms (${int(sc.readSamplesDuringPurge)} answers) |`,
  );
  lines.push(
    `| merge of a 1,000-line cart into a 1,000-line cart (500 shared ids), round trip | ${sc.merge1000Ms?.map(ms).join(', ') ?? '—'} ms (${int(sc.merge1000Lines)} lines after) |`,
  );
  lines.push(
    `| database bytes per guest, SQLite (file size ÷ guests) | ${int(sc.sqliteBytesPerGuest)} B |`,
  );
  lines.push(
    `| database bytes per guest, PostgreSQL (pg_total_relation_size of both tables ÷ ${int(sc.postgresGuests)} guests) | ${int(sc.postgresBytesPerGuest)} B |`,
  );
  lines.push(
    `| server RSS with ${int(sc.guests)} guests in the file: after start / after creates+reads / peak | ${mb(sc.rssAfterStart)} / ${mb(sc.rssAfterLoad)} / ${mb(sc.peakRss)} |`,
  );
  lines.push(
    `| one stats() call (/metrics, dashboard sampler) with all of them expired, not yet purged | ${int(sc.statsMs)} ms |`,
  );
  lines.push(
    `| rows | ${sc.rows ? `${sc.rows.passed ? 'ok' : '**FAILED**'}: ${sc.rows.detail}` : '—'} |`,
  );
  lines.push('');
  lines.push('## Ratios and the targets of issue 7');
  lines.push('');
  lines.push('| ratio | value | target | |');
  lines.push('|---|--:|---|---|');
  for (const t of report.targets) {
    lines.push(`| ${t.what} | ${t.value} | ${t.target} | ${mark(t.met)} |`);
  }
  lines.push('');
  lines.push(
    `Row checks: ${report.allRowChecksPassed ? 'all passed' : '**some FAILED**'} (every 2xx did its work, and nothing else changed).`,
  );
  return `${lines.join('\n')}\n`;
}

/** What a run measured, before it becomes a report. */
export interface RunRecord {
  readonly startedAt: Date;
  /** The 1-minute load average when the run started. */
  readonly loadBefore: number;
  readonly settings: Settings;
  readonly connections: number;
  /** PostgreSQL's version and durability settings. */
  readonly postgres: string;
  readonly scenarios: ScenarioResult[];
  readonly scale: ScaleResult;
}

/** The report of a run, with its targets judged and its row checks summed up. */
export function buildReport(run: RunRecord): BenchReport {
  const { settings, scenarios, scale } = run;
  const report: BenchReport = {
    startedAt: run.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    quick: settings.quick,
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      loadAverageBefore: Math.round(run.loadBefore * 100) / 100,
      loadAverageAfter: Math.round(loadavg()[0]! * 100) / 100,
    },
    settings: {
      loadGenerator: 'autocannon 8 (programmatic, its own process), pipelining 1',
      connections: run.connections,
      warmupSeconds: settings.warmupSeconds,
      secondsPerScenario: settings.seconds,
      guestmodeBuild: 'release (tsc emit of packages/core and packages/server, plain node)',
      guestmodeConfig:
        'guestmode serve: logger off, rate limit off, merge rules {"cart":"sum-by-key"}, other settings default',
      sqlite: 'WAL, synchronous=NORMAL (both Guestmode and Better Auth)',
      postgres: run.postgres,
      postgresPool: 'pg Pool of 10 (both)',
      betterAuth:
        'better-auth 1.7.25, anonymous plugin, toNodeHandler on node:http, rate limit off',
      scaleGuests: settings.scaleGuests,
    },
    scenarios,
    scale,
    targets: [],
    allRowChecksPassed: false,
  };
  return {
    ...report,
    targets: targetsOf(report),
    allRowChecksPassed: scenarios.every((s) => s.rows.passed) && (scale.rows?.passed ?? false),
  };
}

/**
 * Writes `<timestamp>[-quick][-partial].{md,json}` into `out`, and `latest.{md,json}` unless the
 * run left parts out (a partial run must not replace the run of record). Returns the Markdown
 * file's path.
 */
export function writeResults(
  out: string,
  report: BenchReport,
  markdown: string,
  options: { partial: boolean },
): string {
  mkdirSync(out, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const name = `${stamp}${report.quick ? '-quick' : ''}${options.partial ? '-partial' : ''}`;
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(join(out, `${name}.json`), json);
  writeFileSync(join(out, `${name}.md`), markdown);
  if (!options.partial) {
    writeFileSync(join(out, 'latest.json'), json);
    writeFileSync(join(out, 'latest.md'), markdown);
  }
  return join(out, `${name}.md`);
}
