import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        process.stderr.write(output);
        reject(new Error(`${command} ${args.join(' ')} failed with exit code ${code}`));
      }
    });
  });
}

/** A program a test needs and the Debian package that provides it. */
export interface DebianProgram {
  /** Absolute path, e.g. `/usr/bin/jq`. */
  readonly path: string;
  readonly package: string;
}

let updated: Promise<void> | undefined;
const installing = new Map<string, Promise<void>>();

/**
 * Makes sure the programs exist. As root (containers, CI) the missing ones are installed with
 * apt-get, so `npm test` brings up what it needs on a fresh Debian machine; otherwise it fails
 * with the command to run, because silently skipping the tests that need them would hide
 * regressions.
 *
 * @example
 * await ensureDebianPrograms('runnable docs', [{ path: '/usr/bin/jq', package: 'jq' }]);
 */
export async function ensureDebianPrograms(
  purpose: string,
  programs: readonly DebianProgram[],
  /** Said after the install command when the programs are missing and this is not root. */
  alternative = '',
): Promise<void> {
  const missing = programs.filter((p) => !isExecutable(p.path));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((p) => p.package))];
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${purpose} need ${missing.map((p) => p.path).join(', ')}. ` +
        `Install with \`sudo apt-get install ${packages.join(' ')}\`${alternative}.`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const name of packages) {
    let install = installing.get(name);
    if (!install) {
      install = (async () => {
        process.stderr.write(
          `testkit: installing Debian package ${name} for ${purpose} (apt-get)\n`,
        );
        updated ??= run('apt-get', ['update', '-qq'], env);
        await updated;
        await run('apt-get', ['install', '-y', '-qq', name], env);
      })();
      installing.set(name, install);
      install.catch(() => installing.delete(name));
    }
    await install;
  }
  const still = missing.filter((p) => !isExecutable(p.path));
  if (still.length > 0) {
    throw new Error(`apt-get ran but ${still.map((p) => p.path).join(', ')} is still missing`);
  }
}
