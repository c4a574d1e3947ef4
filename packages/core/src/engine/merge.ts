import { invalidGuestCredential } from '../credential.js';
import { GuestmodeError } from '../errors.js';
import type { MergePreview, MergeResult } from '../merge/plan.js';
import { planMerge } from '../merge/plan.js';
import type { MergeOutcome } from '../storage/types.js';
import type { EngineContext } from './context.js';
import { verifiedGuestId } from './guests.js';
import type { MergeOptions, MergeResponse } from './types.js';

export async function merge(ctx: EngineContext, options: MergeOptions): Promise<MergeResponse> {
  const outcome = await runMerge(ctx, options, false);
  const resultJson = outcome.result;
  let result: MergeResult | undefined;
  return {
    // Parsed on first use: an HTTP layer sends `resultJson` and never needs the object.
    get result() {
      result ??= JSON.parse(resultJson) as MergeResult;
      return result;
    },
    resultJson,
    replayed: outcome.status === 'replayed',
  };
}

export async function previewMerge(
  ctx: EngineContext,
  options: MergeOptions,
): Promise<MergePreview> {
  const outcome = await runMerge(ctx, options, true);
  if (outcome.status === 'replayed') {
    const result = JSON.parse(outcome.result) as MergeResult;
    return {
      ...result,
      alreadyMerged: true,
      before: { user: {}, guest: {} },
      after: result.attributes,
    };
  }
  return JSON.parse(outcome.result) as MergePreview;
}

async function runMerge(
  ctx: EngineContext,
  options: MergeOptions,
  preview: boolean,
): Promise<MergeOutcome> {
  const { guestId, userId } = await checkMergeInput(ctx, options);
  const now = ctx.now();
  const events = preview ? undefined : ctx.events;
  const outcome = await ctx.storage.merge({
    guestId,
    userId,
    now,
    retainUntil: now + ctx.ttlMs,
    preview,
    batchable: ctx.builtInRulesOnly,
    plan: (guest, user, transaction) => {
      const plan = planMerge({
        guestId,
        userId,
        now,
        guest,
        user,
        transaction,
        preview,
        engine: ctx.plan,
      });
      if (!events) return plan;
      // The event joins the plan, so the store writes it in the merge's own transaction.
      return plan instanceof Promise
        ? plan.then((p) => events.withMergeEvent(p, now))
        : events.withMergeEvent(plan, now);
    },
  });
  if (outcome.status === 'merged') events?.committed(outcome);
  return outcome;
}

async function checkMergeInput(
  ctx: EngineContext,
  options: MergeOptions,
): Promise<{ guestId: string; userId: string }> {
  if (!options || typeof options.userId !== 'string' || options.userId.length === 0) {
    throw new TypeError("merge needs a userId (the verified access token's sub)");
  }
  if (options.userId.length > 255) {
    throw new GuestmodeError('invalid_access_token', 'The user id is too long.');
  }
  // The secret is checked before the transaction; the state is checked again under lock.
  const guestId = await verifiedGuestId(ctx, options.guestToken);
  if (guestId === undefined) throw invalidGuestCredential();
  return { guestId, userId: options.userId };
}
