// Summarises the .cpuprofile files that `node --cpu-prof` writes: top functions by self time,
// and self time by package (which library, or Guestmode's own code, or Node's internals).
//   node --import tsx bench/src/profile.ts <dir-or-file.cpuprofile> [top]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a function lives: `fastify`, `guestmode core`, `node internals`, `(garbage collector)`… */
export function packageOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName.startsWith('(')) return functionName;
    return '(native)';
  }
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/g;
  let last: string | undefined;
  for (const match of url.matchAll(modules)) last = match[1];
  if (last === '@guestmode/core' || url.includes('/packages/core/')) return 'guestmode core';
  if (last === '@guestmode/server' || url.includes('/packages/server/')) return 'guestmode server';
  if (last) return last;
  if (url.startsWith('node:')) return 'node internals';
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf('node_modules/');
  if (i >= 0) return url.slice(i + 'node_modules/'.length);
  return url.replace(/^file:\/\/.*\/packages\//, 'packages/');
}

/** Markdown tables of one or more profiles (summed), `top` functions by self time. */
export function summariseProfile(path: string, top = 25): string {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(path, f))
    : [path];
  if (files.length === 0) return `(no .cpuprofile in ${path})`;
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map<number, number>();
    profile.samples.forEach((id, i) => {
      const dt = profile.timeDeltas[i] ?? 0;
      self.set(id, (self.get(id) ?? 0) + dt);
    });
    for (const [id, us] of self) {
      const node = nodes.get(id);
      if (!node) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const name = functionName || '(anonymous)';
      // Waiting for I/O (or for the thread pool, where WebCrypto and hashing may run) is not
      // work of this thread: shares below are of the time the main thread was busy.
      if (name === '(idle)') {
        idle += us;
        continue;
      }
      const key = url ? `${name} — ${shortUrl(url)}:${lineNumber + 1}` : name;
      byFunction.set(key, (byFunction.get(key) ?? 0) + us);
      const pkg = packageOf(url, name);
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
      total += us;
    }
  }
  const share = (us: number) => `${((100 * us) / total).toFixed(1)}%`;
  const lines: string[] = [];
  lines.push(
    `${files.length} profile(s): main thread busy ${(total / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s. Shares are of busy time.`,
  );
  lines.push('');
  lines.push('| self time by package | share |');
  lines.push('|---|--:|');
  for (const [pkg, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    lines.push(`| ${pkg} | ${share(us)} |`);
  }
  lines.push('');
  lines.push('| function (self time) | share |');
  lines.push('|---|--:|');
  for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`| ${key.replaceAll('|', '\\|')} | ${share(us)} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [path, top] = process.argv.slice(2);
  if (!path) {
    process.stderr.write('usage: node --import tsx bench/src/profile.ts <dir|file> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${summariseProfile(path, top ? Number(top) : 25)}\n`);
}
