/**
 * Reading Node `IncomingMessage`s, for the adapters built on Node's HTTP server (Express, Next's
 * Pages Router). Their frameworks may have parsed the body already; these helpers accept that or
 * read the stream themselves, within a size limit.
 */
import type { IncomingMessage } from 'node:http';
import { createRateLimitKeyResolver, type TrustedProxies } from '../client-address.js';
import { GuestmodeError } from '../errors.js';
import type { RequestFacts } from './site.js';

/** The largest form the adapters' own routes read (a CSRF token and a decision). */
export const MAX_FORM_BYTES = 8 * 1024;

/** {@link RequestFacts} of a Node request. */
export function nodeRequestFacts(req: IncomingMessage): RequestFacts {
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    header(name) {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/**
 * Reads the rate-limit key of a Node request (its client address, IPv6 by /64), believing
 * `X-Forwarded-For` only as far as `trustProxy` reaches (`0`, the default: the peer is the
 * client). The guest-creation limit counts by it.
 *
 * @example
 * ```ts
 * const clientKey = nodeClientKeyReader(1, 'options.trustProxy'); // one proxy in front
 * await engine.limitGuestCreation(clientKey(req));
 * ```
 */
export function nodeClientKeyReader(
  trustProxy: unknown,
  path: string,
): (req: IncomingMessage) => string {
  let resolve: ReturnType<typeof createRateLimitKeyResolver>;
  try {
    resolve = createRateLimitKeyResolver((trustProxy ?? 0) as TrustedProxies);
  } catch (error) {
    // The resolver names its setting `trustProxy`; the caller's path is the option they wrote.
    throw new TypeError(`${path}: ${(error as Error).message.replace(/^trustProxy: /, '')}`);
  }
  return (req) => resolve(req.socket?.remoteAddress, req.headers['x-forwarded-for']);
}

/** The body as text, at most `limit` bytes (`invalid_request` beyond). */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new GuestmodeError('invalid_request', 'The request body is too large.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The string fields of an `application/x-www-form-urlencoded` post, whether a body parser has
 * already read it (`req.body`) or not. Anything else is `invalid_request`.
 */
export async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw new GuestmodeError('invalid_request', 'Expected a form post.');
  }
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed && typeof parsed === 'object' && !Buffer.isBuffer(parsed)) {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed)) {
      if (typeof value === 'string') out[key] = value;
    }
    return out;
  }
  const text = typeof parsed === 'string' ? parsed : await readBody(req, MAX_FORM_BYTES);
  return Object.fromEntries(new URLSearchParams(text));
}

/**
 * The JSON value of a request, at most `limit` bytes. Only `application/json` is read: a
 * cross-site HTML form cannot send it, so a form cannot write attributes.
 */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    throw new GuestmodeError('invalid_request', 'Send the value as application/json.');
  }
  // A body parser may have read it (a JSON string arrives as a string); else the stream is unread.
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed !== undefined) return parsed;
  const text = await readBody(req, limit);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new GuestmodeError('invalid_request', 'The body is not valid JSON.', { cause });
  }
}
