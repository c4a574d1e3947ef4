// Server-only: the engine and the Guestmode helpers, created on first use from the environment
// (`next build` loads the routes without any of it configured).
import { join } from 'node:path';
import { createGuestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { createGuestmodeApp, type GuestmodeApp } from '@guestmode/next/app';
import type { LogtoNextConfig } from '@logto/next';

/** The Logto configuration, the resource and where the SQLite database lives, from the environment. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env) {
  const baseUrl = (env.BASE_URL ?? 'http://localhost:3000').replace(/\/+$/, '');
  const cookieSecret = env.COOKIE_SECRET;
  if (!cookieSecret || cookieSecret.length < 32) {
    throw new TypeError('COOKIE_SECRET must be set to a random string of at least 32 characters');
  }
  const appId = env.LOGTO_APP_ID;
  const appSecret = env.LOGTO_APP_SECRET;
  if (!appId || !appSecret) {
    throw new TypeError('LOGTO_APP_ID and LOGTO_APP_SECRET must be set (the Logto app)');
  }
  const resource = env.LOGTO_RESOURCE ?? 'https://api.bookstore.local';
  const logto: LogtoNextConfig = {
    endpoint: (env.LOGTO_ENDPOINT ?? 'http://localhost:3001').replace(/\/+$/, ''),
    appId,
    appSecret,
    baseUrl,
    cookieSecret,
    cookieSecure: baseUrl.startsWith('https:'),
    resources: [resource],
  };
  return { logto, resource, dataDir: env.DATA_DIR ?? './data' };
}

const KEY = Symbol.for('@guestmode/example-bookstore-next-app');

/**
 * One instance per server process: Next may evaluate this module once per route bundle, and
 * every route must share one engine (one SQLite connection, one access-token key cache).
 */
export function bookstore(): GuestmodeApp {
  const holder = globalThis as typeof globalThis & { [KEY]?: GuestmodeApp };
  if (holder[KEY]) return holder[KEY];
  const { logto, resource, dataDir } = configFromEnv();
  const engine = openSqliteStorage({ database: join(dataDir, 'guestmode.db') }).then((storage) =>
    createGuestmode({
      storage,
      mergeRules: { cart: 'sum-by-key', theme: 'user-wins' },
      accessTokens: { issuer: `${logto.endpoint}/oidc`, audience: resource },
    }),
  );
  const created = createGuestmodeApp({
    guestmode: engine,
    logto,
    confirm: 'on-conflict',
    confirmPath: '/merge',
  });
  holder[KEY] = created;
  return created;
}
