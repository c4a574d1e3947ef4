import { checkString, checkUrl, optionError, optionPath } from '@guestmode/core';

/**
 * The provider's own option checks, built on core's: a bad option or admin input is the
 * caller's mistake, so each throws a `TypeError` reading `<path>: <what it must be>`.
 */

/** A list of absolute http(s) URLs without fragments (redirect URIs). */
export function checkUrlList(
  value: unknown,
  path: string,
  { required }: { required: boolean },
): string[] {
  if (value === undefined && !required) return [];
  if (!Array.isArray(value) || (required && value.length === 0)) {
    throw optionError(path, 'must be a non-empty array of absolute URLs');
  }
  return value.map((uri, i) => {
    const url = checkUrl(uri, optionPath(path, i));
    if (url.hash) throw optionError(optionPath(path, i), 'must not have a fragment');
    return uri as string;
  });
}

/** A non-blank name of at most `max` characters, trimmed. */
export function checkName(value: unknown, path: string, max = 128): string {
  return checkString(value, path, { maxLength: max }).trim();
}

/**
 * The public origin: an http(s) URL with nothing after the host and port, since the issuer and
 * every route are built on it.
 */
export function checkOrigin(value: unknown, path: string): URL {
  const url = checkUrl(value, path);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw optionError(path, 'must be an origin without path, query or fragment');
  }
  if (url.username || url.password) throw optionError(path, 'must not contain credentials');
  return url;
}
