// `npm run start:next`: the local Logto-compatible provider and the Next.js Bookstore (production
// build, rebuilt when a source is newer), on SQLite in ./data/next/. With LOGTO_ENDPOINT pointing
// at a Logto tenant, only the Bookstore.
import { resolve } from 'node:path';
import { startNextDemo } from './demo.js';
import { printDemo, stopOnSignals } from './serve.js';

const demo = await startNextDemo({
  dataDir: resolve(process.env.DATA_DIR ?? 'data/next'),
});
printDemo(demo, 'Bookstore (Next.js)');
stopOnSignals(demo);
