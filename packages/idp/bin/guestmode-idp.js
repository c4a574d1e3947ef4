#!/usr/bin/env node
// The `guestmode-idp` program. An installed package runs the compiled dist/cli.js. In a
// repository checkout that has not been built, it runs the TypeScript source instead, through tsx
// with the `@guestmode/source` export condition (so workspace packages resolve to their .ts files).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/cli.js', import.meta.url);
const args = process.argv.slice(2);

if (existsSync(fileURLToPath(dist))) {
  const { runIdpCli } = await import(dist.href);
  process.exitCode = await runIdpCli(args);
} else {
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    process.stderr.write('guestmode-idp: dist/ is missing; run `npm run build` (or install tsx)\n');
    process.exit(1);
  }
  const source = new URL('../src/cli.ts', import.meta.url);
  const child = spawn(
    process.execPath,
    ['--conditions=@guestmode/source', '--import', tsx, fileURLToPath(source), ...args],
    { stdio: 'inherit' },
  );
  // Forward termination so a running provider shuts down cleanly under a process manager.
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}
