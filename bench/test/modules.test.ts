// The bench's modules define things and start nothing when imported: a run starts only when
// bench/run.ts is executed (and the load generator only when it is forked). bench/servers/ holds
// the programs the bench runs (servers under test, the ES384 worker), which start when run, so
// they are not imported here.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseOptions } from '../run.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function modulesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return modulesUnder(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

test('importing every bench module starts no process, timer, server or signal handler', {
  timeout: 120_000,
}, async () => {
  const urls = [join(ROOT, 'bench/run.ts'), ...modulesUnder(join(ROOT, 'bench/src'))].map(
    (path) => pathToFileURL(path).href,
  );
  assert.ok(urls.length > 10, 'the bench has its modules');
  const script = `
    const events = ['SIGINT', 'SIGTERM', 'message', 'disconnect', 'exit'];
    // One-shot fs requests (FSReqCallback, FSReqPromise: tsx writes its compile cache in the
    // background) end by themselves; only handles that outlive their work count.
    const snapshot = () => ({
      resources: process.getActiveResourcesInfo().filter((r) => !r.startsWith('FSReq')).sort(),
      listeners: events.map((e) => process.listenerCount(e)),
    });
    // The testkit's own exit hook (it stops the PostgreSQL servers it started) is not the bench's.
    await import('@guestmode/testkit');
    const before = snapshot();
    for (const url of ${JSON.stringify(urls)}) await import(url);
    process.stdout.write(JSON.stringify({ before, after: snapshot() }));
  `;
  let stdout = '';
  let stderr = '';
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=@guestmode/source',
        '--import',
        'tsx',
        '--input-type=module',
        '--eval',
        script,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
    });
    // A module that starts a run keeps the process alive: the time limit makes that a failure.
    const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, `importing the bench's modules did not finish by itself:\n${stderr}`);
  const { before, after } = JSON.parse(stdout) as Record<
    'before' | 'after',
    { resources: string[]; listeners: number[] }
  >;
  assert.deepEqual(after.listeners, before.listeners, 'process listeners added at import');
  assert.deepEqual(after.resources, before.resources, 'handles opened at import');
});

test('parseOptions keeps the command line of npm run bench', () => {
  const defaults = parseOptions([]);
  assert.equal(defaults.quick, false);
  assert.equal(defaults.profile, false);
  assert.equal(defaults.only, undefined);
  assert.equal(defaults.out, join(ROOT, 'bench/results'));

  const partial = parseOptions(['--quick', '--only', 'guestmode-sqlite, scale', '--out', '/tmp/x']);
  assert.equal(partial.quick, true);
  assert.deepEqual(partial.only, ['guestmode-sqlite', 'scale']);
  assert.equal(partial.out, '/tmp/x');

  assert.equal(parseOptions(['--profile']).profile, true);
  assert.throws(() => parseOptions(['--only', 'guestmode']), {
    name: 'TypeError',
    message: /--only takes a list of guestmode-sqlite, .*; not "guestmode"/,
  });
  assert.throws(() => parseOptions(['--fast']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
});
