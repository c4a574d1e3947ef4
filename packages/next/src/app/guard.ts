/**
 * Where `@guestmode/next/app` may run: on the server, in the Node.js runtime. The storage drivers
 * (better-sqlite3, pg) and the credential hashing need Node, and the module holds the engine and
 * the cookie secret, which must never reach a browser bundle.
 */

declare const EdgeRuntime: string | undefined;

/** Throws a clear error in a browser bundle or in the Edge runtime. */
export function assertNodeServer(): void {
  if (typeof window !== 'undefined' && typeof document !== 'undefined') {
    throw new Error(
      '@guestmode/next/app is server-only: import it from Server Components, Server Actions and ' +
        'Route Handlers; Client Components use useGuest() from @guestmode/next/client.',
    );
  }
  const runtime = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env?.NEXT_RUNTIME;
  if (runtime === 'edge' || typeof EdgeRuntime === 'string') {
    throw new Error(
      '@guestmode/next/app needs the Node.js runtime (its storage drivers need Node): remove ' +
        "`export const runtime = 'edge'` from the routes and pages that use it.",
    );
  }
}
