import { randomBytes } from 'node:crypto';
import type { NewEvent } from '../storage/types.js';
import type { EventData, EventType } from './types.js';

const ORDERED_ALPHABET = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
const TIME_DIVISORS = Array.from({ length: 8 }, (_, i) => 2 ** (42 - 6 * i));

let lastTime = 0;
let sequence = 0;

/**
 * `evt_` + 8 characters of time + 4 of a per-process sequence + 12 random: ids sort by the time
 * they were made, and within one millisecond of one process by the order they were made, which
 * is the order the outbox delivers a guest's events in.
 */
export function newEventId(now: number): string {
  if (now > lastTime) {
    lastTime = now;
    sequence = 0;
  } else {
    sequence++;
  }
  let id = 'evt_';
  for (const divisor of TIME_DIVISORS) id += ORDERED_ALPHABET[Math.floor(lastTime / divisor) % 64];
  for (let i = 3; i >= 0; i--) id += ORDERED_ALPHABET[Math.floor(sequence / 64 ** i) % 64];
  return id + randomBytes(9).toString('base64url');
}

/** Builds an event row: the body (`{ type, timestamp, data }`) is fixed when the change is made. */
export function buildEvent<T extends EventType>(
  type: T,
  subject: string,
  data: EventData[T],
  now: number,
): NewEvent {
  const timestamp = new Date(now).toISOString();
  return {
    id: newEventId(now),
    type,
    subject,
    payload: JSON.stringify({ type, timestamp, data }),
    createdAt: now,
  };
}
