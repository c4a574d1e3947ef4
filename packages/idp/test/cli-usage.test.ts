// The `guestmode-idp` program as a user runs it (bin/guestmode-idp.js; in the repository it runs
// the TypeScript source): help for every command, the version, usage errors, where settings and
// the user's password come from.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runIdpCli } from '../src/index.js';

const BIN = fileURLToPath(new URL('../bin/guestmode-idp.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'guestmode-idp-usage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the program in a child process, with `input` on its standard input. */
function spawnBin(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
  input = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Runs the CLI in process with captured output. */
async function run(argv: string[], env: NodeJS.ProcessEnv = {}, stdin = '') {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runIdpCli(argv, {
    stdout: (t) => stdout.push(t),
    stderr: (t) => stderr.push(t),
    stdin: async () => stdin,
    env,
  });
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

describe('guestmode-idp explains itself', () => {
  it('prints help for the program, each group and each command on stdout, exit 0', async () => {
    const top = await spawnBin(['--help']);
    assert.equal(top.code, 0, top.stderr);
    for (const text of [
      'app create',
      'user create',
      '--database-url',
      'Exit codes:',
      '  2  usage',
    ]) {
      assert.ok(top.stdout.includes(text), `--help mentions ${text}`);
    }
    assert.doesNotMatch(top.stdout, /docs\//, 'no pointer to files an npm user does not have');
    const cases: [string[], RegExp][] = [
      [['app', '--help'], /^Usage: guestmode-idp app <command>/],
      [['app', 'create', '--help'], /^Usage: guestmode-idp app create --name NAME --redirect-uri/],
      [['app', 'create-m2m', '-h'], /^Usage: guestmode-idp app create-m2m --name NAME/],
      [['resource', 'create', '--help'], /^Usage: guestmode-idp resource create --indicator/],
      [['user', 'create', '--username', 'x', '--help'], /--password-stdin/],
      [['connector', 'add', '--help'], /^Usage: guestmode-idp connector add --file/],
    ];
    for (const [argv, expected] of cases) {
      const result = await run(argv);
      assert.equal(result.code, 0, argv.join(' '));
      assert.match(result.stdout, expected);
      assert.match(result.stdout, /Exit codes:/);
    }
  });

  it('prints the version of its package.json', async () => {
    const { version } = JSON.parse(
      readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const result = await spawnBin(['--version']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${version}\n`);
  });

  it('refuses unknown commands and options in one line naming them, exit 2', async () => {
    const cases: [string[], string][] = [
      [['--nope'], 'guestmode-idp: unknown option --nope (see guestmode-idp --help)'],
      [
        ['frobnicate'],
        'guestmode-idp: unknown command "frobnicate" (see guestmode-idp frobnicate --help)',
      ],
      [['app'], 'guestmode-idp: "app" needs a command (see guestmode-idp app --help)'],
      [
        ['resource', 'create', '--indicator', 'https://x.test', '--username', 'x'],
        'guestmode-idp: unknown option --username (see guestmode-idp resource create --help)',
      ],
      [
        ['app', 'create', '--name'],
        'guestmode-idp: option --name needs a value (see guestmode-idp app create --help)',
      ],
    ];
    for (const [argv, expected] of cases) {
      const result = await run(argv);
      assert.equal(result.code, 2, argv.join(' '));
      assert.equal(result.stderr, expected);
    }
  });
});

describe('guestmode-idp settings and secrets', () => {
  it('reads the user password from standard input, never needing it on the command line', async () => {
    const file = join(dir, 'stdin.db');
    const result = await spawnBin(
      ['user', 'create', '--username', 'alice', '--password-stdin'],
      { GUESTMODE_IDP_DATABASE_URL: `sqlite:${file}` },
      'correct horse battery\n',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { username: string }).username, 'alice');
    assert.doesNotMatch(result.stderr, /warning/);
    assert.ok(existsSync(file), 'GUESTMODE_IDP_DATABASE_URL chose the file');
  });

  it('takes the password from the environment, and warns when it is given as a flag', async () => {
    const db = `sqlite:${join(dir, 'password.db')}`;
    const fromEnv = await run(['user', 'create', '--username', 'bob', '--database-url', db], {
      GUESTMODE_IDP_USER_PASSWORD: 'a fine password',
    });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(fromEnv.stderr, '');
    const asFlag = await run([
      ...['user', 'create', '--username', 'carol', '--password', 'visible secret'],
      ...['--database-url', db],
    ]);
    assert.equal(asFlag.code, 0, asFlag.stderr);
    assert.match(asFlag.stderr, /^warning: --password on the command line is visible/);
    assert.doesNotMatch(asFlag.stderr, /visible secret/);
    const none = await run(['user', 'create', '--username', 'dave', '--database-url', db]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /missing password: pipe it to --password-stdin or set/);
    const empty = await run(
      ['user', 'create', '--username', 'erin', '--password-stdin', '--database-url', db],
      {},
      '',
    );
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /standard input is empty/);
  });

  it('reads DATABASE_URL after GUESTMODE_IDP_DATABASE_URL; --database still works but warns', async () => {
    const generic = join(dir, 'generic.db');
    const specific = join(dir, 'specific.db');
    const args = ['app', 'create-m2m', '--name', 'A'];
    assert.equal((await run(args, { DATABASE_URL: generic })).code, 0);
    assert.ok(existsSync(generic));
    const both = await run(args, {
      DATABASE_URL: `sqlite:${join(dir, 'unused.db')}`,
      GUESTMODE_IDP_DATABASE_URL: `sqlite:${specific}`,
    });
    assert.equal(both.code, 0, both.stderr);
    assert.ok(existsSync(specific) && !existsSync(join(dir, 'unused.db')));
    const legacy = await run([...args, '--database', join(dir, 'legacy.db')]);
    assert.equal(legacy.code, 0);
    assert.match(legacy.stderr, /^warning: --database is deprecated; use --database-url/);
    assert.ok(existsSync(join(dir, 'legacy.db')));
  });

  it('refuses a database URL it cannot store in, without echoing it', async () => {
    const result = await run(['app', 'create-m2m', '--name', 'A'], {
      DATABASE_URL: 'postgres://app:hunter2@db/idp',
    });
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      'error: DATABASE_URL: must be sqlite:PATH or a file path (the provider stores in SQLite)',
    );
  });
});
