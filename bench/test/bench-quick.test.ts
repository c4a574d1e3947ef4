// `npm run bench -- --quick` end to end, so the benchmark cannot rot: it must finish, write its
// table and JSON, cover every scenario, and prove with row counts that every request did its
// work. No timing is asserted (CI machines are noisy); the numbers are only printed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from '../src/types.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const EXPECTED = [
  'ceiling - hello-1',
  'machine - es384-verify',
  'guestmode sqlite create',
  'guestmode sqlite read',
  'guestmode sqlite write',
  'guestmode sqlite merge',
  'ceiling - hello-2',
  'guestmode postgres create',
  'guestmode postgres read',
  'guestmode postgres write',
  'guestmode postgres merge',
  'guestmode postgres create-2x',
  'guestmode postgres merge-2x',
  'better-auth sqlite create',
  'better-auth sqlite read',
  'better-auth postgres create',
  'better-auth postgres read',
  'ceiling - hello-3',
];

test('npm run bench -- --quick runs every scenario and proves each did its work', {
  timeout: 480_000,
}, async () => {
  const out = mkdtempSync(join(tmpdir(), 'guestmode-bench-test-'));
  try {
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          '--conditions=@guestmode/source',
          '--import',
          'tsx',
          'bench/run.ts',
          '--quick',
          '--out',
          out,
        ],
        { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-20_000);
      });
      const timer = setTimeout(() => child.kill('SIGTERM'), 420_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.equal(code, 0, `the quick bench failed:\n${stderr}`);

    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
    assert.equal(report.quick, true);
    assert.deepEqual(
      report.scenarios.map((s) => `${s.system} ${s.db} ${s.scenario}`),
      EXPECTED,
    );
    for (const s of report.scenarios) {
      assert.equal(s.error, undefined, `${s.system} ${s.db} ${s.scenario}: ${s.error}`);
      assert.ok(s.rows.passed, `${s.system} ${s.db} ${s.scenario}: ${s.rows.detail}`);
      assert.ok(s.load.ok > 0 && s.load.ok === s.load.requests);
    }
    assert.ok(report.scale.rows?.passed, `scale: ${report.scale.rows?.detail}`);
    assert.ok(report.scale.merge1000Lines === 1500, 'the 1,000-line merge gave 1,500 lines');
    assert.ok(report.allRowChecksPassed);
    // Every target of the issue has its line, judged or not (quick runs judge nothing).
    for (const what of [
      /^Guestmode merge ÷ ES384 .*\(sqlite/,
      /^Guestmode merge postgres ÷ sqlite/,
      /^Guestmode create ÷ ceiling \(postgres/,
      /^Guestmode write ÷ ceiling \(postgres/,
      /^Guestmode read ÷ ceiling \(postgres/,
      /^Guestmode create on two instances ÷ one/,
      /^Guestmode merge on two instances ÷ one/,
      /^Guestmode read ÷ Better Auth .*\(postgres\)/,
    ]) {
      const target = report.targets.find((t) => what.test(t.what));
      assert.ok(target, `a target line matching ${what}`);
      assert.notEqual(target.value, '—', `${target.what} has a value`);
    }

    const markdown = readFileSync(join(out, 'latest.md'), 'utf8');
    assert.match(markdown, /\| system \| db \| scenario \| req\/s \|/);
    for (const name of EXPECTED) {
      const [system, db, scenario] = name.split(' ');
      assert.ok(markdown.includes(`| ${system} | ${db} | ${scenario} |`), `table row ${name}`);
    }
    assert.match(markdown, /## Ratios and the targets of issue 7/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
