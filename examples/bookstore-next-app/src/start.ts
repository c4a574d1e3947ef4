// `npm run start:next-app`: the local Logto-compatible provider and the App Router Bookstore (production
// build, rebuilt when a source is newer), on SQLite in ./data/next-app/. With LOGTO_ENDPOINT pointing
// at a Logto tenant, only the Bookstore.
import { resolve } from 'node:path';
import { startNextAppDemo } from './index.js';

const demo = await startNextAppDemo({
  dataDir: resolve(process.env.DATA_DIR ?? 'data/next-app'),
});

const lines = [
  '',
  `  Bookstore             ${demo.url}  (Next.js App Router)`,
  demo.idpUrl
    ? `  Local IdP             ${demo.idpUrl}  (Logto-compatible, development only)`
    : undefined,
  demo.demoUser
    ? `  Demo user             username: ${demo.demoUser.username}   password: ${demo.demoUser.password}`
    : `  Provider              ${process.env.LOGTO_ENDPOINT} (from LOGTO_ENDPOINT)`,
  '',
  `  Open ${demo.url} — press Ctrl-C to stop.`,
  '',
];
console.log(lines.filter((line) => line !== undefined).join('\n'));

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping…`);
  await demo.close();
  console.log('Stopped.');
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
