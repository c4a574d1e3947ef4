// What `npm run start:next` and `npm run start:next-app` do with a started Bookstore: print
// where it runs, and stop it cleanly on Ctrl-C or a process manager's SIGTERM.
import type { NextDemo } from './demo.js';

/** Prints the Bookstore's and the provider's addresses (the Bookstore called `label`). */
export function printDemo(demo: NextDemo, label: string): void {
  const lines = [
    '',
    `  ${label.padEnd(21)} ${demo.url}`,
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
}

/** Closes the Bookstore on SIGINT or SIGTERM (once), then exits. */
export function stopOnSignals(demo: NextDemo): void {
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
}
