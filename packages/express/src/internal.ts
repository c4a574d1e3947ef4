import type { Request } from 'express';

/** `req.session` as a plain record; throws the same advice `@logto/express` gives when absent. */
export function sessionOf(req: Request): Record<string, unknown> {
  const session = (req as Request & { session?: Record<string, unknown> }).session;
  if (!session || typeof session !== 'object') {
    throw new TypeError(
      '@guestmode/express needs express-session: app.use(session(...)) before its routes',
    );
  }
  return session;
}

/** Copies the session's data into a fresh session id, so an id planted before sign-in is void. */
export async function regenerateSession(req: Request, keep: boolean): Promise<void> {
  const session = sessionOf(req) as Record<string, unknown> & {
    regenerate?: (callback: (error?: unknown) => void) => void;
  };
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(session)) if (key !== 'cookie') data[key] = value;
  if (typeof session.regenerate !== 'function') {
    if (!keep) for (const key of Object.keys(data)) delete session[key];
    return;
  }
  await new Promise<void>((resolve, reject) =>
    session.regenerate!((error) => (error ? reject(error) : resolve())),
  );
  if (keep) Object.assign(sessionOf(req), data);
}

/**
 * Logto client storage over `req.session`, laid out exactly as `@logto/express` lays it out
 * (one session key per Logto key, string values, removal by assigning `undefined`), so tokens
 * stored here are what `withLogto` reads afterwards. `@logto/express` does not export its own.
 */
export class SessionStorage {
  readonly #req: Request;

  constructor(req: Request) {
    this.#req = req;
  }

  async getItem(key: string): Promise<string | null> {
    const value = sessionOf(this.#req)[key];
    return value === undefined || value === null ? null : String(value);
  }

  async setItem(key: string, value: string): Promise<void> {
    sessionOf(this.#req)[key] = value;
  }

  async removeItem(key: string): Promise<void> {
    sessionOf(this.#req)[key] = undefined;
  }
}
