// The Bookstores' cross-site suite against the Pages Router Bookstore (production build,
// `next start`), whose shop writes go through the guest API.
import { join } from 'node:path';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { freePort } from '@guestmode/testkit';
import {
  crossSiteSuite,
  guestApiCartCreation,
  guestApiCartWrite,
  withSqliteRecords,
} from '@guestmode/testkit/bookstore-cross-site';
import { APP_DIR, pickBuild, startNextDemo } from '../src/index.js';
import { shop } from './shop.js';

// The driver this Node.js can load (better-sqlite3 13 segfaults on Node 20).
const { Database } = loadSqliteDriver();

crossSiteSuite({
  start: async (dataDir) => {
    const demo = await startNextDemo({
      dataDir,
      test: { appPort: await freePort() },
      ...pickBuild(APP_DIR, '.tmp/next-e2e', '.tmp/next-cross-site'),
      log: (line) => process.stderr.write(`${line}\n`),
    });
    // The engine runs in the `next start` process: the test reads its database file.
    return withSqliteRecords(demo, Database, join(dataDir, 'guestmode.db'));
  },
  startTimeoutMs: 300_000,
  ...shop,
  authRoutes: '/api/logto',
  sessionCookie: /^logto_/,
  personalPages: ['/'],
  personalPagesCaching: 'vary',
  guestApi: '/api/guestmode',
  forgedWrites: async () => [guestApiCartWrite('/api/guestmode')],
  guestCreation: guestApiCartCreation('/api/guestmode'),
});
