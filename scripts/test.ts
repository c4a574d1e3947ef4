// `npm test` runner: brings up what the tests need (one embedded PostgreSQL server shared by all
// test files, Debian's Chromium), then runs every *.test.ts with Node's own test runner.
// Usage: node scripts/test.mjs [path-prefix ...]   e.g. `node scripts/test.mjs packages/core`
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureChromium, startPostgres } from '@guestmode/testkit';

const roots = ['packages', 'examples', 'bench', 'scripts'];
const filters = process.argv.slice(2).map((f) => f.replace(/\/$/, ''));

function findTests(dir: string, out: string[]): string[] {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (entry.endsWith('.test.ts')) out.push(relative('.', path));
  }
  return out;
}

const files = roots
  .flatMap((root) => findTests(root, []))
  .filter((file) => filters.length === 0 || filters.some((f) => file.startsWith(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ') || '(all)'}`);
  process.exit(1);
}

const env: NodeJS.ProcessEnv = { ...process.env };
const postgres = await startPostgres();
env.GUESTMODE_TEST_POSTGRES_URL = postgres.url;
if (!process.env.GUESTMODE_SKIP_BROWSER) {
  env.GUESTMODE_TEST_CHROMIUM = await ensureChromium();
}

const child = spawn(
  process.execPath,
  [
    '--conditions=@guestmode/source',
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    `--test-reporter=${process.env.CI ? 'spec' : 'spec'}`,
    ...files,
  ],
  { stdio: 'inherit', env },
);
const stop = (signal: NodeJS.Signals) => child.kill(signal);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const code: number = await new Promise((resolve) =>
  child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))),
);
await postgres.stop();
process.exit(code);
