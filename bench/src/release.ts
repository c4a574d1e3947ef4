// The release build the bench runs: @guestmode/core and @guestmode/server compiled by tsc into a
// private node_modules under bench/.tmp, laid out as an installed package would be. It leaves the
// packages' own dist/ alone: bin/guestmode.js prefers dist/ when it exists, so building there
// would make everyone else's CLI tests run stale code while they edit the sources.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Release {
  /** `.../@guestmode/server/dist/cli.js`: run it as `node <cli> serve` (that is `guestmode serve`). */
  readonly cli: string;
  /** `.../@guestmode/core/dist`: import `index.js`, `storage/sqlite/index.js`, `storage/postgres/index.js`. */
  readonly coreDist: string;
  /** file: URL of a module of the released core (`index.js`, `storage/sqlite/index.js`…), for `import()`. */
  coreModule(path: string): string;
}

/**
 * Compiles core and server (emit only: `npm run typecheck` checks types) into
 * `bench/.tmp/release/node_modules/@guestmode/*`. Third-party packages resolve from the
 * repository's node_modules, as they would from an app's.
 */
export function buildRelease(root: string): Release {
  const out = resolve(root, 'bench/.tmp/release/node_modules/@guestmode');
  rmSync(out, { recursive: true, force: true });
  const tsc = resolve(root, 'node_modules/typescript/bin/tsc');
  for (const name of ['core', 'server']) {
    const dir = join(out, name);
    mkdirSync(dir, { recursive: true });
    cpSync(resolve(root, `packages/${name}/package.json`), join(dir, 'package.json'));
    const result = spawnSync(
      process.execPath,
      [
        tsc,
        '-p',
        resolve(root, `packages/${name}/tsconfig.build.json`),
        '--outDir',
        join(dir, 'dist'),
        '--noCheck',
        '--declaration',
        'false',
        '--sourceMap',
        'false',
      ],
      { stdio: 'inherit' },
    );
    if (result.status !== 0) throw new Error(`bench: building packages/${name} failed`);
  }
  const coreDist = join(out, 'core/dist');
  return {
    cli: join(out, 'server/dist/cli.js'),
    coreDist,
    coreModule: (path) => pathToFileURL(join(coreDist, path)).href,
  };
}
