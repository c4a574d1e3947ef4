import { assertAttributeName, encodeValue } from '../attributes.js';
import {
  generateCredential,
  hashSecret,
  invalidGuestCredential,
  parseCredential,
  secretMatches,
} from '../credential.js';
import { GuestmodeError } from '../errors.js';
import { assertWithinLimits } from '../storage/checks.js';
import type { GuestRow, StoredAttribute } from '../storage/types.js';
import type { EngineContext } from './context.js';
import type { Guest, GuestSession } from './types.js';

function toGuest(row: Pick<GuestRow, 'id' | 'createdAt' | 'expiresAt'>): Guest {
  return { id: row.id, createdAt: new Date(row.createdAt), expiresAt: new Date(row.expiresAt) };
}

function encodeAll(
  ctx: EngineContext,
  attributes: Readonly<Record<string, unknown>>,
  now: number,
): StoredAttribute[] {
  if (!attributes || typeof attributes !== 'object') {
    throw new TypeError('attributes must be an object');
  }
  return Object.entries(attributes).map(([name, value]) => {
    assertAttributeName(name);
    return { name, value: encodeValue(name, value, ctx.limits.maxValueBytes), updatedAt: now };
  });
}

export async function createGuest(
  ctx: EngineContext,
  attributes: Readonly<Record<string, unknown>>,
): Promise<{ guest: Guest; token: string }> {
  const now = ctx.now();
  const stored = encodeAll(ctx, attributes, now);
  let bytes = 0;
  for (const a of stored) bytes += Buffer.byteLength(a.value);
  assertWithinLimits(stored.length, bytes, ctx.limits);
  const { guestId, secret, token } = generateCredential(now);
  const row = {
    id: guestId,
    secretHash: hashSecret(secret),
    createdAt: now,
    expiresAt: now + ctx.ttlMs,
  };
  // Only `include: ['guest.created']` makes one: the create path otherwise writes nothing more.
  const event = ctx.events?.event(
    'guest.created',
    `g:${guestId}`,
    { guestId, expiresAt: new Date(row.expiresAt).toISOString() },
    now,
  );
  await ctx.storage.createGuest(row, stored, event);
  ctx.events?.committed(event);
  return { guest: toGuest(row), token };
}

export async function authenticateGuest(ctx: EngineContext, token: string): Promise<GuestSession> {
  const parsed = parseCredential(token);
  if (!parsed) throw invalidGuestCredential();
  const found = await ctx.storage.getGuestWithAttributes(parsed.guestId);
  if (!found || !secretMatches(parsed.secret, found.guest.secretHash)) {
    throw invalidGuestCredential();
  }
  const { guest, attributes } = found;
  if (guest.mergedInto !== null) {
    throw new GuestmodeError(
      'guest_merged',
      'This guest has been merged into an account; sign in instead.',
    );
  }
  const now = ctx.now();
  if (guest.expiresAt <= now) {
    throw new GuestmodeError('guest_expired', 'This guest session has expired.');
  }
  // Sliding expiry without a write per read: extend only once half the lifetime is used.
  if (guest.expiresAt - now < ctx.ttlMs / 2) {
    const expiresAt = now + ctx.ttlMs;
    await ctx.storage.extendGuest(guest.id, expiresAt);
    const extended = {
      id: guest.id,
      createdAt: new Date(guest.createdAt),
      expiresAt: new Date(expiresAt),
    };
    return { guest: extended, fresh: true, attributes };
  }
  return { guest: toGuest(guest), fresh: false, attributes };
}

export async function setGuestAttribute(
  ctx: EngineContext,
  guestToken: string,
  name: string,
  value: unknown,
): Promise<{ guest: Guest; fresh: boolean }> {
  assertAttributeName(name);
  const json = encodeValue(name, value, ctx.limits.maxValueBytes);
  const parsed = parseCredential(guestToken);
  if (!parsed) throw invalidGuestCredential();
  const now = ctx.now();
  const times = (await ctx.storage.putAttribute({
    owner: { kind: 'guest', id: parsed.guestId },
    attribute: { name, value: json, updatedAt: now },
    limits: ctx.limits,
    now,
    credential: {
      secretHash: hashSecret(parsed.secret),
      slideTo: now + ctx.ttlMs,
      slideWhenBefore: now + ctx.ttlMs / 2,
    },
  }))!;
  const guest = {
    id: parsed.guestId,
    createdAt: new Date(times.createdAt),
    expiresAt: new Date(times.expiresAt),
  };
  return { guest, fresh: times.extended };
}

/**
 * The guest id of a credential whose secret matches its stored guest, whatever the guest's
 * state; `undefined` for a malformed, unknown or forged credential.
 */
export async function verifiedGuestId(
  ctx: EngineContext,
  guestToken: string,
): Promise<string | undefined> {
  const parsed = parseCredential(guestToken);
  if (!parsed) return undefined;
  const guest = await ctx.storage.getGuest(parsed.guestId);
  if (!guest || !secretMatches(parsed.secret, guest.secretHash)) return undefined;
  return parsed.guestId;
}

export async function deleteGuest(ctx: EngineContext, guestToken: string): Promise<boolean> {
  const guestId = await verifiedGuestId(ctx, guestToken);
  return guestId === undefined ? false : deleteGuestById(ctx, guestId, 'guest');
}

/** Deletes an active guest, with `guest.deleted` in the same transaction when events are on. */
export async function deleteGuestById(
  ctx: EngineContext,
  guestId: string,
  by: 'guest' | 'operator',
): Promise<boolean> {
  const event = ctx.events?.event('guest.deleted', `g:${guestId}`, { guestId, by }, ctx.now());
  const deleted = await ctx.storage.deleteGuest(guestId, event);
  if (deleted) ctx.events?.committed(event);
  return deleted;
}
