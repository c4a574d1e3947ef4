// The Bookstores' cross-site suite against the Express Bookstore, whose shop writes are form
// posts (`/cart/add`) that an app-wide check refuses from any other site.
import { join } from 'node:path';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { crossSiteSuite, withSqliteRecords } from '@guestmode/testkit/bookstore-cross-site';
import { startDemo } from '../src/index.js';
import { shop } from './shop.js';

// The driver this Node.js can load (better-sqlite3 13 segfaults on Node 20).
const { Database } = loadSqliteDriver();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

crossSiteSuite({
  start: async (dataDir) => {
    const demo = await startDemo({ dataDir, ports: 0, log: () => {}, socialConnector: false });
    return withSqliteRecords(demo, Database, join(dataDir, 'guestmode.db'));
  },
  ...shop,
  authRoutes: '/logto',
  sessionCookie: /^bookstore\.sid$/,
  personalPages: ['/', '/books/i-am-a-cat'],
  personalPagesCaching: 'vary',
  forgedWrites: async () => [
    {
      name: 'the cart form',
      path: '/cart/add',
      fields: { book: 'moby-dick', back: '/' },
      fetch: { method: 'POST', headers: FORM, body: 'book=moby-dick&back=%2F' },
    },
  ],
  guestCreation: {
    method: 'POST',
    path: '/cart/add',
    headers: FORM,
    body: 'book=rashomon&back=%2F',
    accepted: 303,
  },
});
