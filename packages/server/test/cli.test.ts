// The `guestmode` program: settings, `purge`, `serve` with graceful shutdown, through
// bin/guestmode.js as a user runs it (in the repository it runs the TypeScript source).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { waitFor } from '@guestmode/testkit';
import { main } from '../src/cli.js';
import { loadConfig } from '../src/config.js';
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

  it('explains itself: help on stdout with exit 0 for the program and each command', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const help = await run(argv);
      assert.equal(help.code, 0);
      assert.deepEqual(help.err, []);
      const text = help.out.join('\n');
      assert.match(text, /^ {2}serve +start the HTTP service$/m);
      assert.match(text, /^ {2}purge /m);
      assert.match(
        text,
        /Exit codes:\n {2}0 {2}success\n {2}1 {2}runtime failure.*\n {2}2 {2}usage error/,
      );
      assert.doesNotMatch(text, /docs\//, 'no pointer to files an npm user does not have');
    }
    for (const command of ['serve', 'purge']) {
      for (const argv of [
        [command, '--help'],
        [command, '--port', '1', '-h'],
        ['help', command],
      ]) {
        const help = await run(argv);
        assert.equal(help.code, 0, argv.join(' '));
        const text = help.out.join('\n');
        assert.match(text, new RegExp(`^Usage: guestmode ${command} \\[flags\\]`));
        for (const setting of [
          '--database-url',
          'GUESTMODE_DATABASE_URL, then DATABASE_URL',
          'PORT',
        ]) {
          assert.ok(text.includes(setting), `${argv.join(' ')} mentions ${setting}`);
        }
        assert.match(text, /--oidc-token-type {2}\[GUESTMODE_OIDC_TOKEN_TYPE\]\n {6}required typ/);
        assert.match(text, /Exit codes:/);
      }
    }
    // With no command at all the help goes to stderr, as a usage error.
    const bare = await run([]);
    assert.equal(bare.code, 2);
    assert.match(bare.err.join('\n'), /^Usage: guestmode <command>/m);
  });

  it('refuses unknown commands and options with one line naming them, exit 2', async () => {
    const cases: [string[], string][] = [
      [['frobnicate'], 'guestmode: unknown command "frobnicate" (see guestmode --help)'],
      [['--frobnicate'], 'guestmode: unknown option --frobnicate (see guestmode --help)'],
      [
        ['serve', '--prot', '1'],
        'guestmode serve: unknown option --prot (see guestmode serve --help)',
      ],
      [
        ['purge', '--port'],
        'guestmode purge: option --port needs a value (see guestmode purge --help)',
      ],
      [['serve', 'now'], 'guestmode serve: unexpected argument now (see guestmode serve --help)'],
    ];
    for (const [argv, expected] of cases) {
      const result = await run(argv);
      assert.equal(result.code, 2, argv.join(' '));
      assert.deepEqual(result.err, [expected]);
      assert.deepEqual(result.out, []);
    }
  });

  it('hands `guestmode idp` to the provider, whose help names the program as called', async () => {
    const result = await spawnBin(['idp', '--help'], {});
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ {2}guestmode idp \[options\] +start the provider/m);
    assert.match(result.stdout, /^ {2}user create +create a user$/m);
  });

  it('answers help and usage errors the same from the real program', async () => {
    const help = await spawnBin(['serve', '--help'], {});
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: guestmode serve \[flags\]/);
    assert.equal(help.stderr, '');
    const wrong = await spawnBin(['serve', '--prot', '1'], {});
    assert.equal(wrong.code, 2);
    assert.equal(wrong.stdout, '');
    assert.equal(
      wrong.stderr,
      'guestmode serve: unknown option --prot (see guestmode serve --help)\n',
    );
  });

  it('prints the version of its package.json', async () => {
    const { version } = JSON.parse(
      readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const result = await spawnBin(['--version'], {});
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${version}\n`);
  });

  it('reads DATABASE_URL after GUESTMODE_DATABASE_URL, and a bare file path as SQLite', () => {
    assert.deepEqual(loadConfig({ env: { DATABASE_URL: 'postgres://db/app' } }).database, {
      kind: 'postgres',
      url: 'postgres://db/app',
    });
    const both = { DATABASE_URL: 'postgres://db/app', GUESTMODE_DATABASE_URL: 'sqlite:./gm.db' };
    assert.deepEqual(loadConfig({ env: both }).database, { kind: 'sqlite', path: './gm.db' });
    assert.deepEqual(loadConfig({ env: {}, argv: ['--database-url', 'data/gm.db'] }).database, {
      kind: 'sqlite',
      path: 'data/gm.db',
    });
    assert.throws(
      () => loadConfig({ env: { DATABASE_URL: 'mysql://root:pw@db/x' } }),
      /^TypeError: DATABASE_URL: must be sqlite:<path>, a file path, or a postgres:\/\/ URL$/,
    );
  });

  it('takes merge rules inline or from a file, checked once with errors naming the rule', () => {
    const inline = '{"cart":"sum-by-key","draft:*":"transfer"}';
    const rules = { cart: 'sum-by-key', 'draft:*': 'transfer' };
    assert.deepEqual(loadConfig({ env: {}, argv: ['--merge-rules', inline] }).mergeRules, rules);
    assert.deepEqual(loadConfig({ env: { GUESTMODE_MERGE_RULES: inline } }).mergeRules, rules);
    const file = join(dir, 'inline-rules.json');
    writeFileSync(file, inline);
    assert.deepEqual(loadConfig({ env: { GUESTMODE_MERGE_RULES: file } }).mergeRules, rules);
    assert.throws(
      () => loadConfig({ env: {}, argv: ['--merge-rules', '{"cart":"coin-flip"}'] }),
      /^TypeError: --merge-rules\["cart"\]: must be one of sum-by-key/,
    );
    assert.throws(
      () => loadConfig({ env: { GUESTMODE_MERGE_RULES: '{"cart":' } }),
      /^TypeError: GUESTMODE_MERGE_RULES: cannot read the inline JSON: not valid JSON/,
    );
    assert.throws(
      () => loadConfig({ env: { GUESTMODE_MERGE_RULES: '{"bad name!":"guest-wins"}' } }),
      /^TypeError: GUESTMODE_MERGE_RULES\["bad name!"\]: is not an attribute name or prefix\*/,
    );
  });

  it('warns when a secret is given on the command line, never echoing it', () => {
    const warnings: string[] = [];
    const warn = (line: string) => warnings.push(line);
    const token = 'a-long-admin-secret-value';
    loadConfig({ env: {}, argv: ['--admin-token', token], warn });
    loadConfig({ env: {}, argv: ['--database-url', 'postgres://app:hunter2@db/gm'], warn });
    loadConfig({ env: {}, argv: ['--database-url', 'postgres://db/gm'], warn });
    loadConfig({ env: { GUESTMODE_ADMIN_TOKEN: token }, warn });
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0]!, /--admin-token on the command line .* prefer GUESTMODE_ADMIN_TOKEN/);
    assert.match(warnings[1]!, /--database-url .* prefer GUESTMODE_DATABASE_URL/);
    assert.ok(warnings.every((w) => !w.includes(token) && !w.includes('hunter2')));
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
        /^guestmode: GUESTMODE_DATABASE_URL: must be sqlite:<path>, a file path, or a postgres:\/\/ URL$/,
      ],
      [
        { GUESTMODE_MERGE_RULES: join(dir, 'missing.json') },
        [],
        /^guestmode: GUESTMODE_MERGE_RULES: cannot read .*no such file/,
      ],
      [
        { GUESTMODE_MERGE_RULES: rulesFile },
        [],
        /^guestmode: GUESTMODE_MERGE_RULES\["theme"\]: must be one of/,
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
      [{}, ['--prot', '1'], /^guestmode (serve|purge): unknown option --prot \(see guestmode/],
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
