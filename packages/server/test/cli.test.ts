// The `guestmode` program: settings, `purge`, `serve` with graceful shutdown, through
// bin/guestmode.js as a user runs it (in the repository it runs the TypeScript source).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { waitFor } from '@guestmode/testkit';
import { main } from '../src/cli.js';
import { assert } from './harness.js';

const BIN = fileURLToPath(new URL('../bin/guestmode.js', import.meta.url));

interface Run {
  code: number;
  out: string[];
  err: string[];
}

/** Runs `main()` in process with captured output. */
async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, out, err };
}

/** Runs bin/guestmode.js in a child process. */
function spawnBin(
  argv: string[],
  env: NodeJS.ProcessEnv,
  onStdout?: (chunk: string, child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('guestmode CLI', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gm-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints help', async () => {
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out.join('\n'), /guestmode serve/);
    assert.match(help.out.join('\n'), /GUESTMODE_DATABASE_URL/);
    assert.equal((await run(['frobnicate'])).code, 2);
  });

  it('stops on a bad setting with one line that names it', async () => {
    const rulesFile = join(dir, 'rules.json');
    writeFileSync(rulesFile, JSON.stringify({ cart: 'sum-by-key', theme: 'coin-flip' }));
    const cases: [NodeJS.ProcessEnv, string[], RegExp][] = [
      [{ PORT: 'abc' }, [], /^guestmode: PORT: "abc" must be an integer/],
      [{}, ['--port', '99999'], /^guestmode: --port: /],
      [
        { GUESTMODE_GUEST_TTL: '10s' },
        [],
        /^guestmode: GUESTMODE_GUEST_TTL: "10s" is not a duration of at least 1m/,
      ],
      [{ GUESTMODE_GUEST_TTL: 'forever' }, [], /^guestmode: GUESTMODE_GUEST_TTL: /],
      [
        { GUESTMODE_DATABASE_URL: 'mysql://root:secret@db/x' },
        [],
        /^guestmode: GUESTMODE_DATABASE_URL: must start with sqlite: or postgres:\/\/$/,
      ],
      [
        { GUESTMODE_MERGE_RULES: join(dir, 'missing.json') },
        [],
        /^guestmode: GUESTMODE_MERGE_RULES: cannot read .*no such file/,
      ],
      [
        { GUESTMODE_MERGE_RULES: rulesFile },
        [],
        /^guestmode: GUESTMODE_MERGE_RULES: the rule for "theme" must be one of/,
      ],
      [
        { GUESTMODE_OIDC_ISSUER: 'http://localhost:3001/oidc' },
        [],
        /^guestmode: GUESTMODE_OIDC_AUDIENCE: is required/,
      ],
      [
        { GUESTMODE_OIDC_ISSUER: 'not a url', GUESTMODE_OIDC_AUDIENCE: 'x' },
        [],
        /^guestmode: GUESTMODE_OIDC_ISSUER: /,
      ],
      [{ GUESTMODE_RATE_LIMIT: 'lots' }, [], /^guestmode: GUESTMODE_RATE_LIMIT: /],
      [{ GUESTMODE_PURGE_INTERVAL: '-1' }, [], /^guestmode: GUESTMODE_PURGE_INTERVAL: /],
      [{ GUESTMODE_TRUST_PROXY: 'true' }, [], /^guestmode: GUESTMODE_TRUST_PROXY: "true" would/],
      [{ GUESTMODE_TRUST_PROXY: '10.0.0.0/99' }, [], /^guestmode: GUESTMODE_TRUST_PROXY: /],
      [{ GUESTMODE_ADMIN_TOKEN: 'short' }, [], /^guestmode: GUESTMODE_ADMIN_TOKEN: must be/],
      [
        { GUESTMODE_PUBLIC_URL: 'https://x.example/path' },
        [],
        /^guestmode: GUESTMODE_PUBLIC_URL: /,
      ],
      [{ GUESTMODE_DASHBOARD: 'maybe' }, [], /^guestmode: GUESTMODE_DASHBOARD: /],
      [{}, ['--prot', '1'], /^guestmode: arguments: Unknown option '--prot'/],
    ];
    for (const [env, flags, expected] of cases) {
      for (const command of ['serve', 'purge']) {
        const result = await run([command, ...flags], env);
        assert.equal(result.code, 2, `${command} ${JSON.stringify(env)} ${flags}`);
        assert.equal(result.err.length, 1, result.err.join('\n'));
        assert.match(result.err[0]!, expected);
        assert.doesNotMatch(result.err[0]!, /secret/);
      }
    }
  });

  it('prints one line and no stack trace from the real program', async () => {
    const result = await spawnBin(['serve'], { PORT: 'abc' });
    assert.equal(result.code, 2);
    assert.equal(result.stderr, 'guestmode: PORT: "abc" must be an integer from 0 to 65535\n');
  });

  it('purges expired guests with `guestmode purge`', async () => {
    const file = join(dir, 'purge.db');
    const monthAgo = Date.now() - 31 * 86_400_000;
    const old = createGuestmode({
      storage: await openSqliteStorage({ database: file }),
      now: () => monthAgo,
    });
    await old.createGuest({ cart: [] });
    await old.createGuest();
    await old.close();
    const fresh = createGuestmode({ storage: await openSqliteStorage({ database: file }) });
    await fresh.createGuest();
    await fresh.close();

    const result = await spawnBin(['purge'], { GUESTMODE_DATABASE_URL: `sqlite:${file}` });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'guestmode: purged 2 expired guests\n');
    const check = createGuestmode({ storage: await openSqliteStorage({ database: file }) });
    const stats = await check.stats();
    await check.close();
    assert.equal(stats.expired, 2);
    assert.equal(stats.active, 1);
  });

  it('serves, answers, and shuts down gracefully on SIGTERM', async () => {
    let base: string | undefined;
    let signalled = false;
    const result = await spawnBin(
      ['serve', '--port', '0'],
      {
        GUESTMODE_DATABASE_URL: `sqlite:${join(dir, 'serve', 'nested', 'gm.db')}`,
        GUESTMODE_LOG_LEVEL: 'info',
      },
      (stdout, child) => {
        const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (!match || signalled) return;
        signalled = true;
        base = match[1];
        void (async () => {
          const health = await waitFor(async () => (await fetch(`${base}/healthz`)).ok);
          assert.ok(health);
          const created = await fetch(`${base}/v1/guests`, { method: 'POST' });
          assert.equal(created.status, 201);
          child.kill('SIGTERM');
        })();
      },
    );
    assert.ok(base, `the server started: ${result.stdout}${result.stderr}`);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /shutting down/);
    assert.match(result.stdout, /guest-only mode/, 'warns that no issuer is configured');
  });
});
