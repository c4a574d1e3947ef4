import { readFileSync } from 'node:fs';
import {
  checkEventsOptions,
  checkObject,
  type EventsOptions,
  isWebhookSecret,
  optionError,
  type WebhookEndpoint,
} from '@guestmode/core';
import { duration, onOff, parseHttpUrl } from './config-values.js';

type Get = (envName: WebhookEnv) => { name: string; value: string };

export type WebhookEnv =
  | 'GUESTMODE_WEBHOOK_URL'
  | 'GUESTMODE_WEBHOOK_SECRET'
  | 'GUESTMODE_WEBHOOKS_FILE'
  | 'GUESTMODE_WEBHOOK_PRIVATE_NETWORKS'
  | 'GUESTMODE_WEBHOOK_POLL_INTERVAL'
  | 'GUESTMODE_WEBHOOK_RETRY_DELAY'
  | 'GUESTMODE_WEBHOOK_GIVE_UP';

/** Secrets separated by spaces or commas (several during a rotation); never echoed. */
function parseSecrets(name: string, value: string): string[] {
  const secrets = value.split(/[\s,]+/).filter(Boolean);
  if (secrets.length === 0 || !secrets.every(isWebhookSecret)) {
    throw optionError(
      name,
      'must be whsec_<base64 of 16 bytes or more> (several: comma-separated)',
    );
  }
  return secrets;
}

/**
 * The webhooks file: a JSON array of endpoints (`{ url, secret, events?, id? }`), or an object
 * `{ webhooks: [...], include?: ["guest.created"] }`. Its errors name the file and the entry,
 * never a secret.
 */
function readWebhooksFile(name: string, path: string): Pick<EventsOptions, 'webhooks' | 'include'> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw optionError(
      name,
      code === 'ENOENT'
        ? `cannot read ${path}: no such file`
        : error instanceof SyntaxError
          ? `${path} is not valid JSON`
          : `cannot read ${path}`,
    );
  }
  if (Array.isArray(parsed)) return { webhooks: parsed as WebhookEndpoint[] };
  if (parsed && typeof parsed === 'object') {
    return checkObject(parsed, name, ['webhooks', 'include']) as Pick<
      EventsOptions,
      'webhooks' | 'include'
    >;
  }
  throw optionError(name, `${path} must hold an array of endpoints or { "webhooks": [...] }`);
}

/**
 * The service's events: webhooks from `GUESTMODE_WEBHOOK_URL` + `GUESTMODE_WEBHOOK_SECRET` and/or
 * the endpoints of `GUESTMODE_WEBHOOKS_FILE`; `undefined` when none is set (nothing is written).
 * Checked here, as the engine will, so a mistake names the setting.
 */
export function loadEvents(get: Get): EventsOptions | undefined {
  const url = get('GUESTMODE_WEBHOOK_URL');
  const secret = get('GUESTMODE_WEBHOOK_SECRET');
  const file = get('GUESTMODE_WEBHOOKS_FILE');
  if (!url.value && secret.value) {
    throw optionError('GUESTMODE_WEBHOOK_URL', 'is required with GUESTMODE_WEBHOOK_SECRET');
  }
  const webhooks: WebhookEndpoint[] = [];
  if (url.value) {
    parseHttpUrl(url.name, url.value);
    if (!secret.value) {
      throw optionError('GUESTMODE_WEBHOOK_SECRET', 'is required with GUESTMODE_WEBHOOK_URL');
    }
    webhooks.push({ url: url.value, secret: parseSecrets(secret.name, secret.value) });
  }
  const fromFile = file.value ? readWebhooksFile(file.name, file.value) : {};
  if (fromFile.webhooks !== undefined && !Array.isArray(fromFile.webhooks)) {
    throw optionError(file.name, 'webhooks must be an array of endpoints');
  }
  webhooks.push(...(fromFile.webhooks ?? []));
  if (webhooks.length === 0) return undefined;
  const retry = get('GUESTMODE_WEBHOOK_RETRY_DELAY');
  const retryBaseMs = duration(retry.name, retry.value, 10);
  const poll = get('GUESTMODE_WEBHOOK_POLL_INTERVAL');
  const giveUp = get('GUESTMODE_WEBHOOK_GIVE_UP');
  const events: EventsOptions = {
    webhooks,
    ...(fromFile.include ? { include: fromFile.include } : {}),
    allowPrivateNetworks: onOff(
      get('GUESTMODE_WEBHOOK_PRIVATE_NETWORKS').name,
      get('GUESTMODE_WEBHOOK_PRIVATE_NETWORKS').value,
    ),
    delivery: {
      intervalMs: duration(poll.name, poll.value, 10),
      retryBaseMs,
      retryMaxMs: Math.max(retryBaseMs, 3_600_000),
      giveUpAfter: `${duration(giveUp.name, giveUp.value, 1000)}ms`,
    },
  };
  // The engine's own checks, under the file's name: `GUESTMODE_WEBHOOKS_FILE.webhooks[1].secret`.
  checkEventsOptions(
    { ...events, webhooks: webhooks.slice(url.value ? 1 : 0) },
    file.value ? file.name : 'GUESTMODE_WEBHOOK_URL',
  );
  return events;
}
