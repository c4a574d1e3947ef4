import { createHmac } from 'node:crypto';

const SECRET = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

/** True for a `whsec_<base64>` secret of at least 16 bytes (Standard Webhooks' form). */
export function isWebhookSecret(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = SECRET.exec(value);
  return match !== null && Buffer.from(match[1]!, 'base64').length >= 16;
}

/**
 * The Standard Webhooks headers of one delivery: each secret signs `id.timestamp.body` with
 * HMAC-SHA256, and the signatures are sent together (`v1,<base64> v1,<base64>`), so a receiver
 * holding either secret of a rotation accepts it.
 */
export function signDelivery(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string,
): Record<string, string> {
  const content = `${id}.${timestampSeconds}.${body}`;
  const signatures = secrets.map((secret) => {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    return `v1,${createHmac('sha256', key).update(content).digest('base64')}`;
  });
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signatures.join(' '),
  };
}
