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
  const { attributes, merges } = await ctx.storage.deleteUser(checkUserId(userId));
  const deleted = attributes + merges > 0;
  if (deleted) ctx.metrics.userDeleted();
  return { deleted, attributes, merges };
}
