import { fileURLToPath } from 'node:url';
import {
  type NextDemo,
  type NextDemoOptions,
  pickBuild,
  printDemo,
  startNextDemo,
  stopOnSignals,
} from '@guestmode/example-bookstore-next';

/** The example's folder (where `app/` and `next.config.mjs` live). */
export const APP_DIR = fileURLToPath(new URL('..', import.meta.url));

export type { NextDemo };
export { pickBuild, printDemo, stopOnSignals };

/**
 * The App Router Bookstore: the same launcher as the Pages Router one (the local provider, a
 * production build when needed, `next start`), for this app.
 */
export function startNextAppDemo(options: Omit<NextDemoOptions, 'app'>): Promise<NextDemo> {
  return startNextDemo({
    ...options,
    app: { dir: APP_DIR, name: 'Bookstore (Next.js App Router)' },
  });
}
