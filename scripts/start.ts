// `npm start`: the local Logto-compatible provider, the demo OAuth upstream and the Bookstore,
// on SQLite in ./data/. With LOGTO_ENDPOINT pointing at a Logto tenant, only the Bookstore.
import { resolve } from 'node:path';
import { startDemo } from '@guestmode/example-bookstore-express';

const demo = await startDemo({ dataDir: resolve(process.env.DATA_DIR ?? 'data') });

const lines = [
  '',
  `  Bookstore   ${demo.url}`,
  demo.idpUrl ? `  Local IdP   ${demo.idpUrl}  (Logto-compatible, development only)` : undefined,
  demo.demoUser
    ? `  Demo user   username: ${demo.demoUser.username}   password: ${demo.demoUser.password}`
    : undefined,
  demo.socialUsers.length > 0
    ? `  Or "Continue with Demo OAuth" as ${demo.socialUsers.join(' or ')}`
    : undefined,
  demo.idpUrl ? undefined : `  Provider    ${process.env.LOGTO_ENDPOINT} (from LOGTO_ENDPOINT)`,
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
