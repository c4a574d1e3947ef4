import type { IncomingMessage, ServerResponse } from 'node:http';
import { GuestmodeError, type GuestmodeErrorCode } from '@guestmode/core';
import { PAGE_CSP } from './pages.js';

/**
 * Minimal HTTP plumbing for the routes outside oidc-provider: body parsing with a size limit,
 * JSON errors, security headers. No framework: the surface is a handful of routes.
 */

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

/** A tiny path router: `/api/users/:userId` style patterns, first match wins. */
export class Router {
  readonly #routes: Route[] = [];

  on(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    const source = path.replace(/:([A-Za-z]+)/g, (_, key: string) => {
      keys.push(key);
      return '([^/]+)';
    });
    this.#routes.push({ method, pattern: new RegExp(`^${source}$`), keys, handler });
    return this;
  }

  /** Returns the matching handler with its params, `405` info, or nothing. */
  match(
    method: string,
    pathname: string,
  ): { handler: Handler; params: Record<string, string> } | 'method_not_allowed' | undefined {
    let pathMatched = false;
    for (const route of this.#routes) {
      const found = route.pattern.exec(pathname);
      if (!found) continue;
      pathMatched = true;
      if (route.method !== method && !(route.method === 'GET' && method === 'HEAD')) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => {
        try {
          params[key] = decodeURIComponent(found[i + 1]!);
        } catch (cause) {
          // `%E0%A4%A` and friends: the client's mistake, not a server error.
          throw new GuestmodeError(
            'invalid_request',
            'the URL path is not valid percent-encoding',
            {
              cause,
            },
          );
        }
      });
      return { handler: route.handler, params };
    }
    return pathMatched ? 'method_not_allowed' : undefined;
  }
}

/** The largest request body any route accepts (forms and JSON are a few hundred bytes). */
export const MAX_BODY = 64 * 1024;

/** The `413` error; thrown before reading when `Content-Length` says too much. */
export function tooLarge(): GuestmodeError {
  return new GuestmodeError(
    'payload_too_large',
    `the request body must be at most ${MAX_BODY} bytes`,
  );
}

/** Whether the declared `Content-Length` already exceeds {@link MAX_BODY}. */
export function declaredTooLarge(req: IncomingMessage): boolean {
  const length = Number(req.headers['content-length']);
  return Number.isFinite(length) && length > MAX_BODY;
}

/** Reads the request body as text, refusing more than {@link MAX_BODY} bytes with `413`. */
export async function readBody(req: IncomingMessage): Promise<string> {
  if (declaredTooLarge(req)) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses an `application/x-www-form-urlencoded` body. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw new GuestmodeError(
      'invalid_request',
      'expected a form (application/x-www-form-urlencoded)',
    );
  }
  return new URLSearchParams(await readBody(req));
}

/** Parses a JSON object body; anything else is `invalid_json`. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) {
    throw new GuestmodeError('invalid_json', 'expected Content-Type: application/json');
  }
  // Read outside the try: a too-large body is a 413, not "invalid JSON".
  const text = await readBody(req);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new GuestmodeError('invalid_json', 'the request body is not valid JSON', { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GuestmodeError('invalid_json', 'the request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function baseHeaders(res: ServerResponse) {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-store');
}

export function sendHtml(res: ServerResponse, status: number, html: string) {
  baseHeaders(res);
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(html);
}

export function sendJson(res: ServerResponse, status: number, body?: unknown) {
  baseHeaders(res);
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** `{"error":{"code","message"}}`, the error shape of both APIs. */
export function sendJsonError(
  res: ServerResponse,
  status: number,
  code: GuestmodeErrorCode,
  message: string,
) {
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  sendJson(res, status, { error: { code, message } });
}

export function redirect(res: ServerResponse, location: string) {
  baseHeaders(res);
  res.writeHead(303, { Location: location });
  res.end();
}

/** The bearer token of a request, if any. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header && /^Bearer\s+(\S+)$/i.exec(header);
  return match ? match[1] : undefined;
}
