// Starts a package's command-line program from its bin/ file. This module is plain JavaScript,
// outside dist/, because the bins need it before any build: an installed package runs the
// compiled dist/cli.js, while a repository checkout that has not been built runs the TypeScript
// source through tsx with the `@guestmode/source` export condition (so workspace packages
// resolve to their .ts files too).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Runs `dist/cli.js` (its `entry` export, called with the arguments) under `packageRoot`, or
 * `src/cli.ts` through tsx where dist/ is missing. Sets `process.exitCode` to the program's.
 *
 * @param {{ packageRoot: URL, program: string, entry: string }} options
 * @returns {Promise<void>}
 */
export async function launchCli({ packageRoot, program, entry }) {
  const dist = new URL('dist/cli.js', packageRoot);
  const args = process.argv.slice(2);
  if (existsSync(fileURLToPath(dist))) {
    const cli = await import(dist.href);
    process.exitCode = await cli[entry](args);
    return;
  }
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    process.stderr.write(`${program}: dist/ is missing; run \`npm run build\` (or install tsx)\n`);
    process.exit(1);
  }
  const source = fileURLToPath(new URL('src/cli.ts', packageRoot));
  const child = spawn(
    process.execPath,
    ['--conditions=@guestmode/source', '--import', tsx, source, ...args],
    { stdio: 'inherit' },
  );
  // Forward termination so a running server shuts down gracefully under a process manager.
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}
