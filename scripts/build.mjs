// Builds publishable packages into their dist/ (JavaScript, declarations, source maps).
// `node scripts/build.mjs` builds every one in dependency order (core first: the others compile
// against its dist/ types); `node scripts/build.mjs <package dir> ...` builds only those, which is
// what each package's `prepack` runs, so `npm pack` always ships a fresh build. dist/ is emptied
// first: a file moved or removed in src/ must not survive in the tarball.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const order = [
  'packages/core',
  'packages/server',
  'packages/idp',
  'packages/express',
  'packages/next',
].map((dir) => join(root, dir));
const dirs = process.argv.length > 2 ? process.argv.slice(2).map((dir) => resolve(dir)) : order;
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');

for (const dir of dirs) {
  const config = join(dir, 'tsconfig.build.json');
  if (!existsSync(config)) {
    console.error(`build: ${config} does not exist`);
    process.exit(1);
  }
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  const result = spawnSync(process.execPath, [tsc, '-p', config], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
