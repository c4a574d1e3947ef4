import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { createIdp, type Idp, startDevUpstream } from '@guestmode/idp';
import { type BookstoreApp, createBookstoreApp, DEFAULTS, loadConfig } from './app.js';

/** Options of {@link startDemo}. */
export interface DemoOptions {
  /** Where every SQLite file and the provisioning record live (`./data` for `npm start`). */
  readonly dataDir: string;
  /**
   * `0`: every server on 127.0.0.1 with a free port (tests). Otherwise fixed ports
   * (default: provider 3001, Bookstore 3000, demo OAuth upstream 3002) on localhost.
   */
  readonly ports?: 0 | { readonly idp?: number; readonly app?: number; readonly upstream?: number };
  /** Environment (default `process.env`): `LOGTO_*`, `BASE_URL`, `SESSION_SECRET`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Progress and warnings (default `console.log`). */
  readonly log?: (line: string) => void;
  /** Start the demo OAuth upstream and its "Continue with Demo OAuth" button (default true). */
  readonly socialConnector?: boolean;
  /**
   * Called with the Bookstore's URL as soon as its port is bound, before the provider and the
   * app are ready (tests use it to see what an early visitor gets).
   */
  readonly onListening?: (url: string) => Promise<void> | void;
}

/** A running demo; `close()` stops every server it started. */
export interface Demo {
  /** The Bookstore's URL. */
  readonly url: string;
  /** The local provider's URL, or `undefined` when a real Logto tenant is configured. */
  readonly idpUrl: string | undefined;
  /** The demo user, when the local provider runs. */
  readonly demoUser: { readonly username: string; readonly password: string } | undefined;
  /** The demo upstream's account names (for the "Continue with Demo OAuth" button). */
  readonly socialUsers: readonly string[];
  readonly bookstore: BookstoreApp;
  readonly idp: Idp | undefined;
  close(): Promise<void>;
}

/** What the first start created, reused by later starts. Dev-only data in the data folder. */
interface Provisioned {
  readonly baseUrl: string;
  readonly appId: string;
  readonly appSecret: string;
  readonly demoPassword: string;
}

export const DEMO_USERNAME = 'demo';
const CONNECTOR_ID = 'demo-oauth';

interface Upstream {
  connectorConfig(): Record<string, unknown>;
  users: { name: string }[];
  close(): Promise<void>;
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolvePort((server.address() as AddressInfo).port);
    });
  });
}

function closeHttp(server: Server): Promise<void> {
  return new Promise((done) => {
    if (!server.listening) return done();
    server.close(() => done());
    server.closeAllConnections();
  });
}

/**
 * The development upstream lives in `@guestmode/idp`'s source but is not exported by the
 * package; load it from the workspace when it is there, and run without the social button
 * otherwise.
 */
async function startUpstream(
  port: number,
  log: (line: string) => void,
): Promise<Upstream | undefined> {
  try {
    return (await startDevUpstream({ port, log: () => {} })) as Upstream;
  } catch (error) {
    log(`(demo OAuth upstream not started: ${(error as Error).message})`);
    return undefined;
  }
}

/**
 * The provider keeps connectors as inserted and has no update call, while the dev upstream makes
 * a new client secret on every start: write the current config into the stored record before
 * the provider loads it. (Asked of the provider: an upsert, or a fixed upstream secret.)
 */
function refreshStoredConnector(file: string, config: Record<string, unknown>): void {
  if (!existsSync(file)) return;
  const db = new (loadSqliteDriver().Database)(file);
  try {
    const table = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'connectors'")
      .get();
    if (!table) return;
    const row = db.prepare('SELECT record FROM connectors WHERE id = ?').get(CONNECTOR_ID) as
      | { record: string }
      | undefined;
    if (!row) return;
    const record = JSON.parse(row.record) as Record<string, unknown>;
    db.prepare('UPDATE connectors SET record = ? WHERE id = ?').run(
      JSON.stringify({ ...record, config }),
      CONNECTOR_ID,
    );
  } finally {
    db.close();
  }
}

function readProvisioned(file: string): Provisioned | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Provisioned;
  } catch {
    return undefined;
  }
}

/**
 * Starts the whole demo the way `npm start` does: the local Logto-compatible provider (with the
 * app registration, API resource, demo user and demo OAuth connector created on first start),
 * and the Bookstore. With `LOGTO_ENDPOINT` set to another provider (a Logto tenant), only the
 * Bookstore starts, configured from `LOGTO_APP_ID`/`LOGTO_APP_SECRET`.
 *
 * @example
 * ```ts
 * const demo = await startDemo({ dataDir: await mkdtemp(join(tmpdir(), 'bookstore-')), ports: 0 });
 * // open demo.url; sign in as demo.demoUser
 * await demo.close();
 * ```
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const test = options.ports === 0;
  const ports = options.ports === 0 ? { idp: 0, app: 0, upstream: 0 } : (options.ports ?? {});
  const host = '127.0.0.1';
  // The port is bound before the Bookstore exists (with port 0 its URL is needed to register
  // the app): until then every request is answered 503 with Retry-After, never left hanging.
  let bookstoreApp: RequestListener | undefined;
  const server = createServer((req, res) => {
    if (bookstoreApp) {
      bookstoreApp(req, res);
      return;
    }
    res.writeHead(503, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      'retry-after': '1',
    });
    res.end('The Bookstore is starting; try again in a moment.\n');
  });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };

  try {
    const localEndpoint = test
      ? 'http://127.0.0.1'
      : `http://localhost:${ports.idp ?? Number(new URL(DEFAULTS.logtoEndpoint).port)}`;
    const external =
      !test && env.LOGTO_ENDPOINT !== undefined && env.LOGTO_ENDPOINT !== localEndpoint;

    // The Bookstore listens first: with port 0 its URL (and so the redirect URI) is known only now.
    const appPort = test
      ? 0
      : (ports.app ?? Number(new URL(env.BASE_URL ?? DEFAULTS.baseUrl).port || 3000));
    const boundPort = await listenOn(server, appPort, env.HOST ?? host);
    stops.push(() => closeHttp(server));
    const baseUrl = test
      ? `http://127.0.0.1:${boundPort}`
      : (env.BASE_URL ?? DEFAULTS.baseUrl).replace(/\/+$/, '');
    await options.onListening?.(test ? baseUrl : `http://127.0.0.1:${boundPort}`);

    if (external) {
      const bookstore = await createBookstoreApp(loadConfig({ ...env, DATA_DIR: dataDir }));
      stops.push(() => bookstore.close());
      bookstoreApp = bookstore.app;
      return {
        url: baseUrl,
        idpUrl: undefined,
        demoUser: undefined,
        socialUsers: [],
        bookstore,
        idp: undefined,
        close: stopAll,
      };
    }

    const idpDatabase = join(dataDir, 'idp.db');
    const upstream =
      options.socialConnector === false
        ? undefined
        : await startUpstream(test ? 0 : (ports.upstream ?? 3002), log);
    if (upstream) {
      stops.push(() => upstream.close());
      refreshStoredConnector(idpDatabase, upstream.connectorConfig());
    }

    const idp = createIdp({
      endpoint: localEndpoint,
      database: idpDatabase,
      ...(test ? { port: 0 } : {}),
      env,
      warn: test ? () => {} : log,
    });
    await idp.listen();
    stops.push(() => idp.close());

    const recordFile = join(dataDir, 'bookstore-demo.json');
    let record = readProvisioned(recordFile);
    if (!record || record.baseUrl !== baseUrl) {
      const { appId, appSecret } = await idp.createApplication({
        name: 'Bookstore',
        redirectUris: [`${baseUrl}/logto/sign-in-callback`],
        postLogoutRedirectUris: [baseUrl],
      });
      record = {
        baseUrl,
        appId,
        appSecret,
        demoPassword: record?.demoPassword ?? `bookstore-${randomBytes(6).toString('base64url')}`,
      };
      writeFileSync(recordFile, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    }
    const resource = env.LOGTO_RESOURCE ?? DEFAULTS.resource;
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
    if (upstream && !(await idp.store.listConnectors()).some((c) => c.id === CONNECTOR_ID)) {
      await idp.addConnector({
        id: CONNECTOR_ID,
        factoryId: 'oauth2',
        target: 'demo-oauth',
        name: { en: 'Demo OAuth', ja: 'デモ OAuth' },
        config: upstream.connectorConfig(),
        syncProfile: 'on-every-sign-in',
        storeTokens: false,
        enabled: true,
      });
    }

    const bookstore = await createBookstoreApp({
      ...loadConfig(
        { ...env, LOGTO_ENDPOINT: idp.url, BASE_URL: baseUrl },
        { appId: record.appId, appSecret: record.appSecret },
      ),
      appId: record.appId,
      appSecret: record.appSecret,
      dataDir,
    });
    stops.push(() => bookstore.close());
    bookstoreApp = bookstore.app;

    return {
      url: baseUrl,
      idpUrl: idp.url,
      demoUser: { username: DEMO_USERNAME, password: record.demoPassword },
      socialUsers: upstream ? upstream.users.map((u) => u.name) : [],
      bookstore,
      idp,
      close: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
