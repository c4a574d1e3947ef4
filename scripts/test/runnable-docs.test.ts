// Every fenced block marked ```sh runnable in README.md and docs/*.md is run as written, so the
// walkthroughs a newcomer copies keep working. Each document gets a fresh local provider and a
// fresh `guestmode serve` (in this process, on free ports, data in a temporary folder), and its
// blocks run in order in one bash (`set -euo pipefail`, so a failing command or `curl -f` fails
// the test) with the variables the document's set-up text defines:
//   GM                the service's URL
//   ALICE_PASSWORD    the password `user create` reads
//   GUESTMODE_IDP_ENDPOINT, GUESTMODE_IDP_DATABASE_URL   so `guestmode-idp` commands reach the
//                     running provider (the token's issuer is the endpoint)
// and `guestmode`, `guestmode-idp` on PATH. An output comment that is a complete JSON line
// (`# {"cart":[…]}` without an ellipsis) must appear in the block's output as that line.
// Only blocks that run offline on this machine may be marked runnable.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createIdp } from '@guestmode/idp';
import { buildServer, loadConfig } from '@guestmode/server';
import { ensureDebianPrograms } from '@guestmode/testkit';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const run = promisify(execFile);
/** Audiences the walkthroughs use; any absolute URI is an API indicator, nothing is fetched. */
const AUDIENCES = ['https://api.bookstore.local', 'https://api.bookstore.example'];
const MERGE_RULES = '{"cart":"sum-by-key","drafts":"transfer","theme":"user-wins"}';
/** A document whose blocks hang (a server started in the foreground) fails instead of stalling the run. */
const BLOCK_TIMEOUT_MS = 120_000;

interface Block {
  readonly file: string;
  readonly line: number;
  readonly code: string;
}

/** The ```sh runnable blocks of a Markdown file, indentation (list items) removed. */
export function runnableBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```sh runnable\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const start = i + 1;
    const body: string[] = [];
    for (i = start; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) {
      body.push(lines[i]!.slice(Math.min(indent, lines[i]!.search(/\S|$/))));
    }
    assert.ok(i < lines.length, `${file}:${start}: the runnable block is not closed`);
    blocks.push({ file, line: start, code: body.join('\n') });
  }
  return blocks;
}

function documents(): { file: string; text: string }[] {
  const files = [
    'README.md',
    ...readdirSync(join(REPO, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .sort()
      .map((name) => `docs/${name}`),
  ];
  return files.map((file) => ({ file, text: readFileSync(join(REPO, file), 'utf8') }));
}

/** Complete JSON lines written as output comments: `# {"cart":[]}`. */
function expectedLines(code: string): string[] {
  return code
    .split('\n')
    .map((line) => /^\s*# ([{[].*)$/.exec(line)?.[1])
    .filter((line): line is string => line !== undefined && !line.includes('…'))
    .filter((line) => {
      try {
        JSON.parse(line);
        return true;
      } catch {
        return false;
      }
    });
}

const work = mkdtempSync(join(tmpdir(), 'guestmode-runnable-docs-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** `guestmode` and `guestmode-idp` as an installed package puts them on PATH. */
function binFolder(): string {
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, script] of [
    ['guestmode', 'packages/server/bin/guestmode.js'],
    ['guestmode-idp', 'packages/idp/bin/guestmode-idp.js'],
  ] as const) {
    const path = join(bin, name);
    writeFileSync(path, `#!/bin/sh\nexec '${process.execPath}' '${join(REPO, script)}' "$@"\n`);
    chmodSync(path, 0o755);
  }
  return bin;
}

async function gitStatus(): Promise<string> {
  return (await run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO }))
    .stdout;
}

function runBash(script: string, cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), BLOCK_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

test('the extractor finds runnable blocks, also indented in a list, and only those', () => {
  const text = [
    '```sh',
    'echo no',
    '```',
    '1. step',
    '   ```sh runnable',
    '   echo yes',
    '     x',
    '   ```',
  ].join('\n');
  assert.deepEqual(runnableBlocks('t.md', text), [
    { file: 't.md', line: 5, code: 'echo yes\n  x' },
  ]);
  assert.deepEqual(expectedLines('curl …\n# {"a":1}\n# {"b":…}\n# not json'), ['{"a":1}']);
});

const docs = documents().filter(({ file, text }) => runnableBlocks(file, text).length > 0);

test('README.md and the getting-started guide have runnable walkthroughs', () => {
  const files = docs.map((doc) => doc.file);
  assert.ok(files.includes('README.md'));
  assert.ok(files.includes('docs/getting-started.md'));
});

for (const { file, text } of docs) {
  test(`${file}: its runnable blocks succeed against a fresh provider and service`, async () => {
    // The walkthroughs use the shell tools a reader has; a fresh machine may lack them.
    await ensureDebianPrograms('the runnable docs', [
      { path: '/usr/bin/curl', package: 'curl' },
      { path: '/usr/bin/jq', package: 'jq' },
    ]);
    const before = await gitStatus();
    const dir = mkdtempSync(join(work, 'doc-'));
    const idpDatabase = `sqlite:${join(dir, 'idp.db')}`;
    const idp = createIdp({
      database: join(dir, 'idp.db'),
      endpoint: 'http://127.0.0.1',
      port: 0,
      env: {},
      warn: () => {},
    });
    await idp.listen();
    const config = loadConfig({
      env: {
        GUESTMODE_DATABASE_URL: `sqlite:${join(dir, 'guestmode.db')}`,
        GUESTMODE_OIDC_ISSUER: idp.issuer,
        GUESTMODE_OIDC_AUDIENCE: AUDIENCES.join(','),
        GUESTMODE_MERGE_RULES: MERGE_RULES,
        GUESTMODE_LOG_LEVEL: 'silent',
      },
      argv: [],
    });
    const server = await buildServer({ config: { ...config, port: 0 }, logger: false });
    try {
      const url = await server.listen({ host: '127.0.0.1', port: 0 });
      const env: NodeJS.ProcessEnv = {
        PATH: `${binFolder()}:${process.env.PATH}`,
        HOME: dir,
        GM: url,
        ALICE_PASSWORD: 'correct horse battery staple',
        GUESTMODE_IDP_ENDPOINT: idp.url,
        GUESTMODE_IDP_DATABASE_URL: idpDatabase,
      };
      // One shell for the document: later blocks use what earlier ones set, as a reader's does.
      const blocks = runnableBlocks(file, text);
      const script = blocks
        .map((block) => `echo '>>> ${block.file}:${block.line}' >&2\n${block.code}`)
        .join('\n');
      const result = await runBash(`set -euo pipefail\n${script}`, dir, env);
      assert.equal(result.code, 0, `${file} failed:\n${result.stdout}\n${result.stderr}`);
      const output = result.stdout.split('\n');
      for (const line of blocks.flatMap((block) => expectedLines(block.code))) {
        assert.ok(
          output.includes(line),
          `${file}: expected the line ${line} in:\n${result.stdout}`,
        );
      }
    } finally {
      await server.close();
      await idp.close();
    }
    assert.equal(await gitStatus(), before, 'tracked files are untouched');
  });
}
