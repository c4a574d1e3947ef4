// The published packages as a user gets them: every public package is packed (its prepack builds
// dist/), the tarballs are installed from the registry's point of view into a blank project
// outside the repository, and that project runs an Express app on @guestmode/express, the
// `guestmode` and `guestmode-idp` programs, and type-checks an importing file under the
// `node16` and `bundler` module resolutions. The packing happens in a copy of the packages, so
// the repository's own dist/ folders (which bin/guestmode.js would prefer) stay as they are.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** Dependency order: the others compile against core's dist/ types. */
const PACKAGES = ['core', 'server', 'idp', 'express', 'next'] as const;
const NODE_MAJOR = Number.parseInt(process.versions.node, 10);

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'guestmode-pack-'));
const stage = join(work, 'stage');
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');
/** The child processes get a plain environment: no export condition, no loader. */
const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', CI: 'true' };

after(() => rmSync(work, { recursive: true, force: true }));

/** Copies what a package's prepack needs, and links the repository's third-party modules. */
function stagePackages(): void {
  mkdirSync(join(stage, 'scripts'), { recursive: true });
  writeFileSync(join(stage, 'package.json'), '{ "private": true, "type": "module" }\n');
  cpSync(join(REPO, 'tsconfig.base.json'), join(stage, 'tsconfig.base.json'));
  cpSync(join(REPO, 'scripts/build.mjs'), join(stage, 'scripts/build.mjs'));
  const modules = join(stage, 'node_modules');
  mkdirSync(join(modules, '@guestmode'), { recursive: true });
  for (const entry of readdirSync(join(REPO, 'node_modules'))) {
    if (entry === '@guestmode' || entry === '.bin' || entry.startsWith('.')) continue;
    symlinkSync(join(REPO, 'node_modules', entry), join(modules, entry));
  }
  for (const name of PACKAGES) {
    const from = join(REPO, 'packages', name);
    const to = join(stage, 'packages', name);
    for (const entry of readdirSync(from)) {
      if (['node_modules', 'dist', 'test'].includes(entry)) continue;
      cpSync(join(from, entry), join(to, entry), { recursive: true });
    }
    symlinkSync(to, join(modules, '@guestmode', name));
  }
}

interface PackResult {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

async function npm(args: readonly string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args], {
    cwd,
    env,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  return stdout;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise((done) => server.close(done));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

/** Waits (bounded) for a line on the child's output that matches `pattern`. */
function waitFor(child: ChildProcess, pattern: RegExp, limitMs: number): Promise<string> {
  return new Promise((resolveLine, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`timed out; output:\n${output}`)), limitMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveLine(match[0]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}; output:\n${output}`));
    });
  });
}

const packed = new Map<string, PackResult>();

describe('the packed packages', { timeout: 900_000 }, () => {
  before(async () => {
    stagePackages();
    mkdirSync(tarballs);
    for (const name of PACKAGES) {
      const out = await npm(
        ['pack', '--json', '--pack-destination', tarballs],
        join(stage, 'packages', name),
      );
      const [result] = JSON.parse(out.slice(out.indexOf('['))) as PackResult[];
      assert.ok(result, `npm pack of ${name} reports its tarball`);
      packed.set(name, result);
    }
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      `${JSON.stringify({ name: 'guestmode-pack-check', private: true, type: 'module' }, null, 2)}\n`,
    );
    // Install scripts off: only better-sqlite3 12 (the Node.js 20 build) has one, and it compiles
    // for minutes where no prebuilt binary can be fetched. On Node.js 20 the repository's own
    // build of the same version stands in for it.
    await npm(
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--ignore-scripts',
        ...PACKAGES.map((name) => join(tarballs, packed.get(name)?.filename ?? '')),
        'express@^5',
        'express-session@^1',
        '@types/node@^20',
        '@types/express@^5',
        '@types/express-session@^1',
      ],
      app,
    );
    if (NODE_MAJOR < 22) {
      const target = join(app, 'node_modules/better-sqlite3-node20');
      rmSync(target, { recursive: true, force: true });
      symlinkSync(join(REPO, 'node_modules/better-sqlite3-node20'), target);
    }
  });

  test('each tarball holds built JavaScript, types and the package documents', () => {
    for (const name of PACKAGES) {
      const result = packed.get(name);
      assert.ok(result);
      const files = new Set(result.files.map((file) => file.path));
      for (const file of [
        'package.json',
        'README.md',
        'LICENSE',
        'CHANGELOG.md',
        'dist/index.js',
        'dist/index.d.ts',
      ]) {
        assert.ok(files.has(file), `${name} ships ${file}`);
      }
      assert.ok(![...files].some((file) => file.startsWith('test/')), `${name} ships no tests`);
    }
  });

  test('each manifest exports dist/ under common conditions and TypeScript only under its own', () => {
    for (const name of PACKAGES) {
      const manifest = JSON.parse(
        readFileSync(join(app, 'node_modules/@guestmode', name, 'package.json'), 'utf8'),
      );
      assert.equal(manifest.repository?.directory, `packages/${name}`);
      assert.ok(manifest.keywords?.length > 0, `${name} has keywords`);
      assert.equal(manifest.engines?.node, '>=20');
      assert.equal(manifest.license, 'MIT');
      for (const [subpath, target] of Object.entries(
        manifest.exports as Record<string, Record<string, string>>,
      )) {
        // The bins' launcher is written in JavaScript (it runs before any build) and ships as is.
        const built =
          name === 'core' && subpath === './launcher' ? /^\.\/launcher\// : /^\.\/dist\//;
        for (const [condition, file] of Object.entries(target)) {
          if (condition === '@guestmode/source') continue;
          assert.match(file, built, `${name} ${subpath} ${condition}`);
          assert.match(file, /\.(js|d\.ts)$/, `${name} ${subpath} ${condition}`);
        }
        assert.ok(target.types && target.default, `${name} ${subpath} has types and default`);
      }
    }
  });

  test('an Express app on @guestmode/express creates a guest', async () => {
    const port = await freePort();
    writeFileSync(
      join(app, 'server.mjs'),
      `import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { guestmode } from '@guestmode/express';
import express from 'express';
import session from 'express-session';

const engine = createGuestmode({ storage: await openSqliteStorage({ database: ':memory:' }) });
const baseUrl = 'http://127.0.0.1:${port}';
const app = express();
app.use(session({ secret: 'pack-check-session-secret-0123456789', resave: false, saveUninitialized: false }));
app.use(guestmode({ guestmode: engine, baseUrl }));
app.post('/cart', async (req, res) => {
  await req.guest.set('cart', [{ id: 'book-1', quantity: 1 }]);
  res.json({ kind: req.guest.kind, cart: await req.guest.get('cart') });
});
const server = app.listen(${port}, '127.0.0.1', async () => {
  const response = await fetch(\`\${baseUrl}/cart\`, { method: 'POST' });
  const body = await response.json();
  process.stdout.write(JSON.stringify({ status: response.status, cookie: response.headers.get('set-cookie'), body }));
  server.close();
  await engine.close();
});
`,
    );
    const { stdout } = await run(process.execPath, ['server.mjs'], {
      cwd: app,
      env,
      timeout: 60_000,
    });
    const result = JSON.parse(stdout);
    assert.equal(result.status, 200);
    assert.equal(result.body.kind, 'guest');
    assert.deepEqual(result.body.cart, [{ id: 'book-1', quantity: 1 }]);
    assert.match(result.cookie, /^guestmode=gm_/);
  });

  test('npx guestmode serves guests', async () => {
    const help = await run('npx', ['--no', '--', 'guestmode', '--help'], {
      cwd: app,
      env,
      timeout: 60_000,
    });
    assert.match(help.stdout, /guestmode serve/);
    const port = await freePort();
    const child = spawn(join(app, 'node_modules/.bin/guestmode'), ['serve'], {
      cwd: app,
      env: {
        ...env,
        HOST: '127.0.0.1',
        PORT: String(port),
        GUESTMODE_DATABASE_URL: `sqlite:${join(app, 'guestmode.db')}`,
        GUESTMODE_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await waitFor(child, /listening/i, 60_000);
      const response = await fetch(`http://127.0.0.1:${port}/v1/profile/attributes/cart`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '[1]',
      });
      assert.equal(response.status, 201);
      const body = (await response.json()) as { token?: string };
      assert.match(body.token ?? '', /^gm_/);
    } finally {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    }
  });

  test('npx guestmode-idp runs', async () => {
    const { stdout, stderr } = await run('npx', ['--no', '--', 'guestmode-idp', '--help'], {
      cwd: app,
      env,
      timeout: 60_000,
    });
    assert.match(stdout + stderr, /app create/);
  });

  for (const resolution of ['node16', 'bundler'] as const) {
    test(`an importing file type-checks under moduleResolution ${resolution}`, async () => {
      const dir = join(app, `check-${resolution}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'check.ts'),
        `import { createGuestmode, GuestmodeError } from '@guestmode/core';
import { openPostgresStorage } from '@guestmode/core/postgres';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { guestCookie } from '@guestmode/core/web';
import { guestmode } from '@guestmode/express';
import { createIdp } from '@guestmode/idp';
import { createGuestmodeNext } from '@guestmode/next';
import { buildServer } from '@guestmode/server';

// Fails when a declaration did not resolve (an unresolved import is \`any\`).
type IsAny<T> = 0 extends 1 & T ? true : false;
const resolved: [
  IsAny<typeof createGuestmode>,
  IsAny<typeof GuestmodeError>,
  IsAny<typeof openPostgresStorage>,
  IsAny<typeof openSqliteStorage>,
  IsAny<typeof loadSqliteDriver>,
  IsAny<typeof guestCookie>,
  IsAny<typeof guestmode>,
  IsAny<typeof createIdp>,
  IsAny<typeof createGuestmodeNext>,
  IsAny<typeof buildServer>,
] = [false, false, false, false, false, false, false, false, false, false];
export const engine = createGuestmode({ storage: await openSqliteStorage({ database: ':memory:' }) });
export { resolved };
`,
      );
      const compilerOptions =
        resolution === 'node16'
          ? { module: 'node16', moduleResolution: 'node16' }
          : { module: 'esnext', moduleResolution: 'bundler' };
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            ...compilerOptions,
            target: 'es2022',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: ['node'],
          },
          files: ['check.ts'],
        }),
      );
      const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
      const result = await run(process.execPath, [tsc, '-p', dir], {
        cwd: app,
        env,
        timeout: 180_000,
      }).catch((error: { stdout?: string; message: string }) => ({
        stdout: error.stdout ?? error.message,
        failed: true,
      }));
      assert.ok(!('failed' in result), result.stdout);
    });
  }
});
