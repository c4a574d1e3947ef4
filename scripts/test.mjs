// Plain-JS entry so `node scripts/test.mjs` works without flags: re-runs the TypeScript runner
// with the `@guestmode/source` export condition and the tsx loader.
import { spawnSync } from 'node:child_process';

const result = spawnSync(
  process.execPath,
  [
    '--conditions=@guestmode/source',
    '--import',
    'tsx',
    'scripts/test.ts',
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
