import type { Request } from 'express';
import { sessionOf } from './internal.js';

/**
 * Logto client storage over `req.session`, laid out exactly as `@logto/express` lays it out
 * (one session key per Logto key, string values, removal by assigning `undefined`), so tokens
 * stored here are what `withLogto` and `handleAuthRoutes` read afterwards. `@logto/express`
 * does not export its own class.
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
