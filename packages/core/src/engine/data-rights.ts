import type { MergeResult } from '../merge/plan.js';
import type { EngineContext } from './context.js';
import { toProfile } from './types.js';

/** Everything Guestmode holds about one user: what a data export hands over. */
export interface UserExport {
  readonly userId: string;
  /** The user's profile, parsed. */
  readonly attributes: Record<string, unknown>;
  /** The guests merged into the user, oldest first, with what each merge did. */
  readonly merges: readonly {
    readonly guestId: string;
    readonly mergedAt: string;
    readonly result: MergeResult;
  }[];
}

/** What {@link deleteUser} removed. */
export interface UserDeletion {
  /** True when anything was there to delete. */
  readonly deleted: boolean;
  readonly attributes: number;
  readonly merges: number;
}

function checkUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > 255) {
    throw new TypeError('userId must be a non-empty string of at most 255 characters');
  }
  return userId;
}

export async function exportUser(ctx: EngineContext, userId: string): Promise<UserExport> {
  const stored = await ctx.storage.readUser(checkUserId(userId));
  return {
    userId,
    attributes: toProfile(stored.attributes),
    merges: stored.merges.map((m) => ({
      guestId: m.guestId,
      mergedAt: new Date(m.mergedAt).toISOString(),
      result: JSON.parse(m.result) as MergeResult,
    })),
  };
}

export async function deleteUser(ctx: EngineContext, userId: string): Promise<UserDeletion> {
  const id = checkUserId(userId);
  // Written even when nothing was stored: other systems may hold the user's data all the same.
  const event = ctx.events?.event('user.deleted', `u:${id}`, { userId: id }, ctx.now());
  const { attributes, merges } = await ctx.storage.deleteUser(id, event);
  ctx.events?.committed(event);
  const deleted = attributes + merges > 0;
  if (deleted) ctx.metrics.userDeleted();
  return { deleted, attributes, merges };
}

/** A guest as an operator sees it: never its secret. */
export interface GuestRecord {
  readonly id: string;
  readonly state: 'active' | 'merged' | 'expired';
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly mergedInto: string | null;
  readonly mergedAt: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function toRecord(
  row: {
    id: string;
    createdAt: number;
    expiresAt: number;
    mergedInto: string | null;
    mergedAt: number | null;
  },
  now: number,
): GuestRecord {
  return {
    id: row.id,
    state: row.mergedInto !== null ? 'merged' : row.expiresAt <= now ? 'expired' : 'active',
    createdAt: iso(row.createdAt)!,
    expiresAt: iso(row.expiresAt)!,
    mergedInto: row.mergedInto,
    mergedAt: iso(row.mergedAt),
  };
}

export async function listGuests(
  ctx: EngineContext,
  options: { readonly after?: string; readonly limit?: number },
): Promise<GuestRecord[]> {
  const limit = options.limit ?? 50;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
    throw new TypeError('limit must be an integer from 1 to 1000');
  }
  const rows = await ctx.storage.listGuests(options.after ?? '', limit);
  const now = ctx.now();
  return rows.map((row) => toRecord(row, now));
}

export async function inspectGuest(
  ctx: EngineContext,
  guestId: string,
): Promise<(GuestRecord & { readonly attributes: Record<string, unknown> }) | null> {
  const row = await ctx.storage.getGuest(guestId);
  if (!row) return null;
  const attributes = toProfile(await ctx.storage.readAttributes({ kind: 'guest', id: guestId }));
  return { ...toRecord(row, ctx.now()), attributes };
}
