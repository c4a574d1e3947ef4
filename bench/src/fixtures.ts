// Data the bench sends and stores: carts of known shapes, guests and sessions made through HTTP,
// and access tokens from the test issuer.
import type { TestIssuer } from '@guestmode/testkit';

/** A typical cart: three line items (about 130 bytes of JSON). */
export const TYPICAL_CART = JSON.stringify([
  { id: 'book-1042', quantity: 1, price: 1299 },
  { id: 'book-2203', quantity: 2, price: 899 },
  { id: 'book-0077', quantity: 1, price: 2450 },
]);

/**
 * A cart of `lines` line items. `offset` shifts the ids, so a guest's cart (offset 0) and a
 * user's cart (offset lines/2) share half their ids: `sum-by-key` adds half, copies the rest.
 */
export function cartOf(lines: number, offset = 0): string {
  const items: { id: string; quantity: number }[] = [];
  for (let i = 0; i < lines; i++) {
    items.push({ id: `book-${String(i + offset).padStart(5, '0')}`, quantity: 1 + (i % 3) });
  }
  return JSON.stringify(items);
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function pool<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

async function expectOk(response: Response, what: string): Promise<unknown> {
  const text = await response.text();
  if (!response.ok) throw new Error(`bench: ${what} answered ${response.status}: ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

/** Creates guests through `POST /v1/guests` with the given attributes; returns their tokens. */
export async function createGuests(
  baseUrl: string,
  count: number,
  attributes: string,
): Promise<string[]> {
  const body = `{"attributes":${attributes}}`;
  return pool(count, 16, async () => {
    const response = await fetch(`${baseUrl}/v1/guests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const json = (await expectOk(response, 'POST /v1/guests')) as { token: string };
    return json.token;
  });
}

/** Signs in anonymously to Better Auth `count` times; returns the session cookies. */
export async function createAnonymousSessions(baseUrl: string, count: number): Promise<string[]> {
  return pool(count, 8, async () => {
    const response = await fetch(`${baseUrl}/api/auth/sign-in/anonymous`, { method: 'POST' });
    await expectOk(response, 'POST /api/auth/sign-in/anonymous');
    const cookie = response.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith('better-auth.session_token='));
    if (!cookie) throw new Error('bench: Better Auth set no session cookie');
    return cookie;
  });
}

/** GET a URL with headers and parse the JSON answer (throws on non-2xx). */
export async function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
  return expectOk(await fetch(url, { headers }), `GET ${url}`);
}

/** POST with headers and an optional JSON body; parse the JSON answer (throws on non-2xx). */
export async function postJson(
  url: string,
  headers: Record<string, string>,
  body?: string,
): Promise<unknown> {
  const init: RequestInit = { method: 'POST', headers: { ...headers } };
  if (body !== undefined) {
    init.body = body;
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  return expectOk(await fetch(url, init), `POST ${url}`);
}

/** One access token per user id, valid for three hours (longer than any run). */
export async function signTokens(
  issuer: TestIssuer,
  userIds: readonly string[],
): Promise<string[]> {
  return pool(userIds.length, 32, (i) =>
    issuer.accessToken({ sub: userIds[i]!, expiresIn: 3 * 3600 }),
  );
}
