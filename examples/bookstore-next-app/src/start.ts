// `npm run start:next-app`: the local Logto-compatible provider and the App Router Bookstore (production
// build, rebuilt when a source is newer), on SQLite in ./data/next-app/. With LOGTO_ENDPOINT pointing
// at a Logto tenant, only the Bookstore.
import { resolve } from 'node:path';
import { printDemo, startNextAppDemo, stopOnSignals } from './index.js';

const demo = await startNextAppDemo({
  dataDir: resolve(process.env.DATA_DIR ?? 'data/next-app'),
});
printDemo(demo, 'Bookstore (App Router)');
stopOnSignals(demo);
