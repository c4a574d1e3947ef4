/**
 * Fetch-style requests and responses, as the App Router's route handlers give and take them:
 * the request facts core/web reads, bodies read within a size limit, and answers that are never
 * cached or shared across cookies.
 */
import { GuestmodeError, toErrorResponse } from '@guestmode/core';
import { MAX_FORM_BYTES, type RequestFacts } from '@guestmode/core/web';

/** {@link RequestFacts} of a fetch `Request`, or of the headers Next gives a Server Action. */
export function fetchRequestFacts(method: string, headers: Headers): RequestFacts {
  return {
    method: method.toUpperCase(),
    header: (name) => headers.get(name) ?? undefined,
  };
}

/** The body as text, at most `limit` bytes (`invalid_request` beyond), read as it streams. */
export async function readBody(request: Request, limit: number): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new GuestmodeError('invalid_request', 'The request body is too large.');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The string fields of an `application/x-www-form-urlencoded` post; anything else is refused. */
export async function readForm(request: Request): Promise<Record<string, string>> {
  const type = request.headers.get('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw new GuestmodeError('invalid_request', 'Expected a form post.');
  }
  return Object.fromEntries(new URLSearchParams(await readBody(request, MAX_FORM_BYTES)));
}

/**
 * The JSON value of a request. Only `application/json` is read: a cross-site HTML form cannot
 * send it, so a form cannot write attributes.
 */
export async function readJson(request: Request, limit: number): Promise<unknown> {
  if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
    throw new GuestmodeError('invalid_request', 'Send the value as application/json.');
  }
  const text = await readBody(request, limit);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new GuestmodeError('invalid_request', 'The body is not valid JSON.', { cause });
  }
}

/** An answer about this browser's own data: never stored by a cache, never shared across cookies. */
export function personal(
  status: number,
  type: string | undefined,
  body: string | null,
  headers: Record<string, string> = {},
): Response {
  const all = new Headers(headers);
  if (type) all.set('content-type', type);
  all.set('cache-control', 'no-store');
  all.set('vary', 'Cookie');
  return new Response(body, { status, headers: all });
}

/** A JSON answer; see {@link personal}. */
export function json(status: number, value: unknown): Response {
  return personal(status, 'application/json; charset=utf-8', JSON.stringify(value));
}

/** Answers an error with core's one error model (`{"error":{"code","message"}}`). */
export function errorResponse(error: unknown): Response {
  const answer = toErrorResponse(error);
  if (answer.log) console.error(error);
  return personal(
    answer.status,
    'application/json; charset=utf-8',
    JSON.stringify(answer.body),
    answer.headers,
  );
}
