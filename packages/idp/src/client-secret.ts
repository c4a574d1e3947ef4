import { createHash, timingSafeEqual } from 'node:crypto';

/** The prefix of a stored application secret: the algorithm, so another can follow later. */
const PREFIX = 'sha256:';

/**
 * What the database keeps of an application secret: its SHA-256. The secrets are 256 random
 * bits made by the provider, so no dictionary or brute force can invert the hash, and a slow
 * password hash (scrypt) would only add tens of milliseconds of CPU to every token request
 * without making a leaked database any less useless.
 */
export function hashApplicationSecret(secret: string): string {
  return `${PREFIX}${createHash('sha256').update(secret, 'utf8').digest('base64url')}`;
}

/**
 * Whether `presented` is the secret whose hash is `stored`, in constant time. A stored value
 * without the prefix is never a match: every row is hashed by the schema migration.
 */
export function applicationSecretMatches(stored: unknown, presented: unknown): boolean {
  if (typeof stored !== 'string' || !stored.startsWith(PREFIX)) return false;
  if (typeof presented !== 'string' || presented === '') return false;
  const expected = Buffer.from(stored, 'utf8');
  const actual = Buffer.from(hashApplicationSecret(presented), 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
