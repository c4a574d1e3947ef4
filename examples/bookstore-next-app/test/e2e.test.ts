// The App Router Bookstore in headless Chromium against a production build (`next build`, then
// `next start`) and the local provider: the Bookstores' journey, the shop's writes made by
// Server Actions.
import { bookstoreJourney } from '@guestmode/testkit/bookstore';
import { shop, startTestDemo } from './fixture.js';

bookstoreJourney({
  start: (dataDir) => startTestDemo(dataDir, '.tmp/next-e2e'),
  startTimeoutMs: 300_000,
  stepTimeoutMs: 90_000,
  shots: { dir: new URL('../test-results/', import.meta.url).pathname, prefix: 'app-' },
  ...shop,
  // A Server Component cannot write cookies: the replayed one stays until the next action.
  replayedCookie: 'kept',
  confirmsConflicts: true,
});
