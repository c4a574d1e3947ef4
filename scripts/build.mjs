// Builds every publishable package in dependency order (core first), emitting dist/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const order = [
  'packages/core',
  'packages/server',
  'packages/idp',
  'packages/express',
  'packages/next',
];
for (const dir of order) {
  if (!existsSync(`${dir}/tsconfig.build.json`)) continue;
  const result = spawnSync('npx', ['tsc', '-p', `${dir}/tsconfig.build.json`], {
    stdio: 'inherit',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
