/**
 * Small signed values for state that must not be forged by the browser (the sign-in start
 * record and the pending merge). Adapters without a server-side session (Next.js) keep these
 * records in HttpOnly cookies signed with HMAC-SHA-256 under a key derived from the app's secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface Sealer {
  seal(purpose: string, value: unknown, expiresAt: number): string;
  unseal<T>(purpose: string, sealed: string | undefined, now: number): T | undefined;
}

/** Seals values under `secret`; `purpose` separates the kinds of record. */
export function createSealer(secret: string): Sealer {
  // The label stays the one cookies were first signed under, so existing records stay valid.
  const key = createHmac('sha256', secret).update('@guestmode/next cookie signing').digest();
  const mac = (purpose: string, body: string) =>
    createHmac('sha256', key).update(`${purpose}.${body}`).digest('base64url');
  return {
    seal(purpose, value, expiresAt) {
      const body = Buffer.from(JSON.stringify({ v: value, e: expiresAt })).toString('base64url');
      return `${body}.${mac(purpose, body)}`;
    },
    unseal<T>(purpose: string, sealed: string | undefined, now: number): T | undefined {
      if (typeof sealed !== 'string' || sealed.length > 4096) return undefined;
      const dot = sealed.lastIndexOf('.');
      if (dot <= 0) return undefined;
      const body = sealed.slice(0, dot);
      const given = Buffer.from(sealed.slice(dot + 1));
      const expected = Buffer.from(mac(purpose, body));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      try {
        const parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as {
          v: T;
          e: number;
        };
        return typeof parsed.e === 'number' && parsed.e > now ? parsed.v : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
