// The results as Markdown (stdout, bench/results/*.md) and the targets of issue 7.
import type { BenchReport, ScenarioResult, Target } from './types.js';

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

/** Every ratio the issue asks for, with its target where it sets one. */
export function targetsOf(report: BenchReport): Target[] {
  const targets: Target[] = [];
  const ceilings = report.scenarios
    .filter((x) => x.system === 'ceiling' && !x.error)
    .map((x) => x.load.rps)
    .sort((a, b) => a - b);
  // The median of the ceiling's rounds (the middle one of three).
  const ceiling = ceilings[Math.floor((ceilings.length - 1) / 2)];
  const judge = (ok: boolean | undefined) => (report.quick ? undefined : ok);
  for (const db of ['sqlite', 'postgres'] as const) {
    for (const [name, goal] of [
      ['create', 0.4],
      ['read', 0.6],
      ['write', 0.4],
      ['merge', undefined],
    ] as const) {
      const gm = find(report, 'guestmode', db, name)?.load.rps;
      const r = gm !== undefined && ceiling ? gm / ceiling : undefined;
      targets.push({
        what: `Guestmode ${name} ÷ ceiling (${db}; median of the ceiling's rounds)`,
        value: pct(r),
        target: db === 'sqlite' && goal !== undefined ? `≥ ${goal * 100}%` : '(no target)',
        met:
          db === 'sqlite' && goal !== undefined && r !== undefined ? judge(r >= goal) : undefined,
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
  for (const db of ['sqlite', 'postgres'] as const) {
    const goal = db === 'sqlite' ? 20 : 3;
    for (const name of ['create', 'read'] as const) {
      const gm = find(report, 'guestmode', db, name)?.load.rps;
      const ba = find(report, 'better-auth', db, name)?.load.rps;
      const r = gm !== undefined && ba ? gm / ba : undefined;
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
