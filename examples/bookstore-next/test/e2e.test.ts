// The Next.js Bookstore in headless Chromium against a production build (`next build` here, in
// the set-up, then `next start`) and the local provider: the Bookstores' journey, the shop's
// writes made by `useGuest()` through the guest API.
import { freePort } from '@guestmode/testkit';
import { bookstoreJourney } from '@guestmode/testkit/bookstore';
import { startNextDemo } from '../src/index.js';
import { shop } from './shop.js';

bookstoreJourney({
  // Its own build folder (under the git-ignored .tmp/): never clobbers `npm run start:next`'s
  // build, and is reused by the next run when no source changed.
  start: async (dataDir) =>
    startNextDemo({
      dataDir,
      test: { appPort: await freePort() },
      distDir: '.tmp/next-e2e',
      log: (line) => process.stderr.write(`${line}\n`),
    }),
  startTimeoutMs: 240_000,
  shots: { dir: new URL('../test-results/', import.meta.url).pathname, prefix: '' },
  ...shop,
  replayedCookie: 'cleared',
  confirmsConflicts: true,
});
