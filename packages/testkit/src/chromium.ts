import type { Browser } from 'playwright-core';
import { ensureDebianPrograms, isExecutable } from './debian.js';

const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/**
 * Path of a Chromium binary for browser tests. We use the distribution's Chromium rather than
 * Playwright's downloaded browsers: it is one `apt-get` away on Debian, gets security updates,
 * and needs no network access at test time. As root (containers, CI) it installs the
 * `chromium` package itself; otherwise it fails with the command to run, because silently
 * skipping browser tests would hide regressions.
 *
 * `GUESTMODE_TEST_CHROMIUM` overrides the lookup (set by `scripts/test.ts` for its test
 * processes, or by a developer pointing at another Chromium build).
 */
export async function ensureChromium(): Promise<string> {
  const configured = process.env.GUESTMODE_TEST_CHROMIUM;
  if (configured) {
    if (!isExecutable(configured)) {
      throw new Error(
        `GUESTMODE_TEST_CHROMIUM is set to ${configured}, which is not an executable file`,
      );
    }
    return configured;
  }
  if (isExecutable(DEFAULT_CHROMIUM)) return DEFAULT_CHROMIUM;
  await ensureDebianPrograms(
    'browser tests',
    [{ path: DEFAULT_CHROMIUM, package: 'chromium' }],
    ', or set GUESTMODE_TEST_CHROMIUM to the path of a Chromium binary',
  );
  return DEFAULT_CHROMIUM;
}

/**
 * Flags that make headless Chromium deterministic and quiet in containers: no sandbox (root in
 * Docker has no user namespaces), no GPU, no QUIC, and none of the background traffic
 * (updates, sync, field trials) that would reach the network during tests.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * A headless Chromium driven by `playwright-core`, for end-to-end tests of the sign-in and
 * merge journeys. Close it in `after()`; each test should use its own `browser.newContext()` so
 * cookies never leak between tests.
 *
 * @example
 * const browser = await launchBrowser();
 * after(() => browser.close());
 * const page = await (await browser.newContext()).newPage();
 */
export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: await ensureChromium(),
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
}
