import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createIdp, type Idp } from '@guestmode/idp';

/** The example's folder (where `pages/` and `next.config.mjs` live). */
export const APP_DIR = fileURLToPath(new URL('..', import.meta.url));
const ROOT = resolve(APP_DIR, '../..');
const NEXT_BIN = createRequire(import.meta.url).resolve('next/dist/bin/next');

export const DEMO_USERNAME = 'demo';
const DEFAULT_RESOURCE = 'https://api.bookstore.local';

/** Options of {@link startNextDemo}. */
export interface NextDemoOptions {
  /** Where the SQLite files and the provisioning record live. */
  readonly dataDir: string;
  /**
   * `test`: the provider on 127.0.0.1 with a free port and the app on 127.0.0.1:`appPort`.
   * Otherwise the provider on localhost:3001 and the app on `BASE_URL` (default
   * http://localhost:3000).
   */
  readonly test?: { readonly appPort: number };
  /** Environment (default `process.env`): `LOGTO_*`, `BASE_URL`, `COOKIE_SECRET`, `HOST`. */
  readonly env?: NodeJS.ProcessEnv;
  /** `next build`'s output folder, relative to the app (default `.next`). */
  readonly distDir?: string;
  /** `auto` (default): build when the build is missing or older than a source file. */
  readonly build?: 'auto' | 'always' | 'never';
  /** Progress lines (default `console.log`). */
  readonly log?: (line: string) => void;
  /**
   * Another Next app with the same environment contract (the App Router Bookstore): its folder
   * and the name it is registered under at the provider. Default: this example.
   */
  readonly app?: { readonly dir: string; readonly name: string };
}

export interface NextDemo {
  readonly url: string;
  /** The local provider's URL, or `undefined` when a real Logto tenant is configured. */
  readonly idpUrl: string | undefined;
  readonly demoUser: { readonly username: string; readonly password: string } | undefined;
  readonly idp: Idp | undefined;
  close(): Promise<void>;
}

interface Provisioned {
  readonly baseUrl: string;
  readonly appId: string;
  readonly appSecret: string;
  readonly demoPassword: string;
  readonly cookieSecret: string;
}

function readProvisioned(file: string): Provisioned | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Provisioned;
  } catch {
    return undefined;
  }
}

/** Newest modification time of the files the build of the app in `appDir` is made from. */
function newestSource(appDir: string): number {
  let newest = 0;
  const walk = (path: string) => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) {
        if (entry !== 'node_modules' && entry !== 'test') walk(join(path, entry));
      }
    } else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const path of [
    'app',
    'pages',
    'lib',
    'styles',
    'proxy.ts',
    'next.config.mjs',
    'tsconfig.json',
  ]) {
    walk(join(appDir, path));
  }
  // The App Router Bookstore's build is made from the Pages Router one's shared modules too.
  walk(join(APP_DIR, 'lib'));
  walk(join(APP_DIR, 'styles'));
  walk(join(APP_DIR, 'next-config.mjs'));
  walk(join(ROOT, 'packages/next/src'));
  walk(join(ROOT, 'packages/core/src'));
  return newest;
}

/**
 * For a test file of the app in `appDir`: the end-to-end test's build (`shared`) when it is
 * complete and up to date, so a run after it builds nothing; otherwise a build in the file's
 * `own` folder. Building into the shared folder could collide with that test building there at
 * the same moment (`npm test` runs two files at once), and Next's lock on the folder would fail
 * one of the two builds. A build in progress still holds its `lock` file (and may already have
 * written BUILD_ID), so that counts as not complete.
 */
export function pickBuild(
  appDir: string,
  shared: string,
  own: string,
): { distDir: string; build: 'never' | 'auto' } {
  const buildId = join(appDir, shared, 'BUILD_ID');
  const complete = existsSync(buildId) && !existsSync(join(appDir, shared, 'lock'));
  if (complete && statSync(buildId).mtimeMs >= newestSource(appDir)) {
    return { distDir: shared, build: 'never' };
  }
  return { distDir: own, build: 'auto' };
}

function run(appDir: string, args: string[], env: NodeJS.ProcessEnv, log: (line: string) => void) {
  return new Promise<void>((done, fail) => {
    const child = spawn(process.execPath, [NEXT_BIN, ...args], {
      cwd: appDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', fail);
    child.on('close', (code) => {
      if (code === 0) done();
      else {
        log(output);
        fail(new Error(`next ${args.join(' ')} failed with exit code ${code}`));
      }
    });
  });
}

/**
 * Runs `next build --webpack` when needed (see `build`). Webpack because the workspace packages
 * are compiled from their TypeScript source; see next.config.mjs.
 */
export async function buildNextApp(
  options: {
    distDir?: string;
    build?: 'auto' | 'always' | 'never';
    log?: (l: string) => void;
    /** The Next app's folder (default: this example's). */
    appDir?: string;
  } = {},
): Promise<void> {
  const appDir = options.appDir ?? APP_DIR;
  const distDir = options.distDir ?? '.next';
  const log = options.log ?? ((line: string) => console.log(line));
  const mode = options.build ?? 'auto';
  if (mode === 'never') return;
  const buildId = join(appDir, distDir, 'BUILD_ID');
  if (mode === 'auto' && existsSync(buildId) && statSync(buildId).mtimeMs >= newestSource(appDir)) {
    return;
  }
  log(`Building the Next.js Bookstore (${distDir}) …`);
  await run(
    appDir,
    ['build', '--webpack'],
    { ...process.env, NEXT_TELEMETRY_DISABLED: '1', BOOKSTORE_NEXT_DIST_DIR: distDir },
    log,
  );
  // `next build` writes next-env.d.ts (git-ignored, and not in Biome's style): this app's
  // tsconfig.json does not need it, so it goes rather than failing `npm run lint` afterwards.
  rmSync(join(appDir, 'next-env.d.ts'), { force: true });
}

/** Waits (bounded) until the app answers HTTP, or the process exits. */
async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 400 && Date.now() < deadline; attempt++) {
    if (child.exitCode !== null) throw new Error(`next start exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`the Next.js Bookstore did not answer at ${url} within ${timeoutMs} ms`);
}

/**
 * The Next.js Bookstore demo: the local Logto-compatible provider (registering the app with
 * redirect URI `<BASE_URL>/api/logto/sign-in-callback`, the API resource and the demo user on
 * first start), a production build of the app (`next build`, when needed) and `next start`.
 * With `LOGTO_ENDPOINT` set to another provider (a Logto tenant), only the app starts.
 *
 * @example
 * ```ts
 * const demo = await startNextDemo({ dataDir: './data/next' });
 * // open demo.url; sign in as demo.demoUser
 * await demo.close();
 * ```
 */
export async function startNextDemo(options: NextDemoOptions): Promise<NextDemo> {
  const env = options.env ?? process.env;
  const appDir = options.app?.dir ?? APP_DIR;
  const log = options.log ?? ((line: string) => console.log(line));
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const test = options.test;
  const baseUrl = test
    ? `http://127.0.0.1:${test.appPort}`
    : (env.BASE_URL ?? 'http://localhost:3000').replace(/\/+$/, '');
  const base = new URL(baseUrl);
  const port = test ? test.appPort : Number(base.port || (base.protocol === 'https:' ? 443 : 80));
  const host = test ? '127.0.0.1' : (env.HOST ?? '127.0.0.1');
  const localEndpoint = test ? 'http://127.0.0.1' : 'http://localhost:3001';
  const external =
    !test && env.LOGTO_ENDPOINT !== undefined && env.LOGTO_ENDPOINT !== localEndpoint;
  const resource = env.LOGTO_RESOURCE ?? DEFAULT_RESOURCE;

  const stops: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stops.length = 0;
  };

  try {
    // Build first: it is the slow part, and needs nothing running.
    await buildNextApp({
      appDir,
      ...(options.distDir ? { distDir: options.distDir } : {}),
      ...(options.build ? { build: options.build } : {}),
      log,
    });

    let idp: Idp | undefined;
    let appEnv: NodeJS.ProcessEnv;
    let demoUser: NextDemo['demoUser'];
    if (external) {
      appEnv = { LOGTO_ENDPOINT: env.LOGTO_ENDPOINT };
    } else {
      idp = createIdp({
        endpoint: localEndpoint,
        database: join(dataDir, 'idp.db'),
        ...(test ? { port: 0 } : {}),
        env,
        warn: test ? () => {} : log,
      });
      await idp.listen();
      const started = idp;
      stops.push(() => started.close());

      const recordFile = join(dataDir, 'bookstore-next-demo.json');
      let record = readProvisioned(recordFile);
      if (!record || record.baseUrl !== baseUrl) {
        const { appId, appSecret } = await idp.createApplication({
          name: options.app?.name ?? 'Bookstore (Next.js)',
          redirectUris: [`${baseUrl}/api/logto/sign-in-callback`],
          postLogoutRedirectUris: [baseUrl],
        });
        record = {
          baseUrl,
          appId,
          appSecret,
          demoPassword: record?.demoPassword ?? `bookstore-${randomBytes(6).toString('base64url')}`,
          cookieSecret: record?.cookieSecret ?? randomBytes(32).toString('base64url'),
        };
        writeFileSync(recordFile, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
      }
      if (!(await idp.store.findResource(resource))) {
        await idp.createResource({ indicator: resource, name: 'Bookstore API' });
      }
      if (!(await idp.store.findUserByUsername(DEMO_USERNAME))) {
        await idp.createUser({
          username: DEMO_USERNAME,
          password: record.demoPassword,
          name: 'Demo Reader',
        });
      }
      demoUser = { username: DEMO_USERNAME, password: record.demoPassword };
      appEnv = {
        LOGTO_ENDPOINT: idp.url,
        LOGTO_APP_ID: record.appId,
        LOGTO_APP_SECRET: record.appSecret,
        COOKIE_SECRET: record.cookieSecret,
      };
    }

    const child = spawn(
      process.execPath,
      [NEXT_BIN, 'start', '--hostname', host, '--port', String(port)],
      {
        cwd: appDir,
        env: {
          ...env,
          ...appEnv,
          NODE_ENV: 'production',
          NEXT_TELEMETRY_DISABLED: '1',
          BASE_URL: baseUrl,
          LOGTO_RESOURCE: resource,
          DATA_DIR: dataDir,
          BOOKSTORE_NEXT_DIST_DIR: options.distDir ?? '.next',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      if (!test) process.stdout.write(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    stops.push(
      () =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
          child.once('exit', () => {
            clearTimeout(force);
            done();
          });
          child.kill('SIGTERM');
        }),
    );
    await waitForHttp(`http://${host}:${port}/404`, child, 60_000);

    return { url: baseUrl, idpUrl: idp?.url, demoUser, idp, close };
  } catch (error) {
    await close();
    throw error;
  }
}
