// The App Router Bookstore in headless Chromium against a production build (`next build`, then
// `next start`) and the local provider: the Bookstores' journey, the shop's writes made by
// Server Actions.
import { bookstoreJourney } from '@guestmode/testkit/bookstore';
import { addToCart, runAction, startTestDemo } from './fixture.js';

bookstoreJourney({
  start: (dataDir) => startTestDemo(dataDir, '.tmp/next-e2e'),
  startTimeoutMs: 300_000,
  stepTimeoutMs: 90_000,
  shots: { dir: new URL('../test-results/', import.meta.url).pathname, prefix: 'app-' },
  home: async (page, url) => {
    await page.goto(url);
    await page.locator('.account a, .account button').first().waitFor();
  },
  addToCart: (page, index) => addToCart(page, index),
  chooseTheme: (page, label) =>
    runAction(page, () => page.getByRole('button', { name: label }).click()),
  themeHolder: '.page',
  userRoute: '/api/logto/user',
  // A Server Component cannot write cookies: the replayed one stays until the next action.
  replayedCookie: 'kept',
  confirmsConflicts: true,
});
