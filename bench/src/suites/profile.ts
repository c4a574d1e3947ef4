// `--profile`: Guestmode's create, read and merge on SQLite, each against its own server under
// `node --cpu-prof`, and a summary of where each one's time goes.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchContext, log } from '../context.js';
import { summariseProfile } from '../profile.js';
import { type GuestmodeStack, runGuestmodeSuite } from './guestmode.js';

/** Writes `<dir>/<scenario>/*.cpuprofile` and a summary of each on stdout. */
export async function runProfiles(
  ctx: BenchContext,
  stack: GuestmodeStack,
  dir: string,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const name of ['create', 'read', 'merge'] as const) {
    const profileDir = join(dir, name);
    rmSync(profileDir, { recursive: true, force: true });
    const results = await runGuestmodeSuite(
      ctx,
      stack,
      'sqlite',
      `sqlite:${join(ctx.work, `profile-${name}.db`)}`,
      { only: [name], nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] },
    );
    for (const r of results) {
      log(`profile ${name}: ${Math.round(r.load.rps)} req/s under --cpu-prof`);
    }
    process.stdout.write(`\n## Profile: ${name} (SQLite)\n\n${summariseProfile(profileDir)}\n`);
  }
}
