// Server-only: what both Next Bookstores (Pages Router and App Router) build their Guestmode
// helpers from. Everything is read from the environment on first use: `next build` loads the
// routes without any of it configured.
import { join } from 'node:path';
import { createGuestmode, type Guestmode } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
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

/** The Bookstore's engine on its SQLite database: the cart sums, the account's theme wins. */
export function openBookstoreEngine(config: ReturnType<typeof configFromEnv>): Promise<Guestmode> {
  const { logto, resource, dataDir } = config;
  return openSqliteStorage({ database: join(dataDir, 'guestmode.db') }).then((storage) =>
    createGuestmode({
      storage,
      mergeRules: { cart: 'sum-by-key', theme: 'user-wins' },
      accessTokens: { issuer: `${logto.endpoint}/oidc`, audience: resource },
    }),
  );
}

/**
 * `create()`'s value, made once per server process and kept under `key` on `globalThis`: Next
 * may evaluate a module once per route bundle, and every route must share one engine (one
 * SQLite connection, one access-token key cache).
 */
export function oncePerProcess<T>(key: string, create: () => T): T {
  const symbol = Symbol.for(key);
  const holder = globalThis as typeof globalThis & { [symbol]?: T };
  if (!(symbol in holder)) holder[symbol] = create();
  return holder[symbol] as T;
}
