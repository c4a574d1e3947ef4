import { GuestmodeError } from '../errors.js';
import { checkPositiveInteger } from '../options.js';
import type { EngineContext } from './context.js';

export interface PurgeOptions {
  /** Guests per batch. Default: the store's. */
  readonly batchSize?: number;
  readonly maxBatches?: number;
  readonly signal?: AbortSignal;
  /** Rest between batches half as long as each took. Default: the store's. */
  readonly pace?: boolean;
}

export async function purgeExpired(
  ctx: EngineContext,
  options: PurgeOptions,
): Promise<{ deleted: number }> {
  const policy = ctx.storage.purgePolicy;
  const batchSize =
    options.batchSize === undefined
      ? policy.batchSize
      : checkPositiveInteger(options.batchSize, 'batchSize');
  const maxBatches = options.maxBatches ?? Number.POSITIVE_INFINITY;
  const pace = options.pace ?? policy.paced;
  let deleted = 0;
  for (let batch = 0; batch < maxBatches && !options.signal?.aborted; batch++) {
    const started = performance.now();
    const now = ctx.now();
    const count = await ctx.storage.purgeExpired(now, batchSize, ctx.events?.expired(now));
    if (count > 0) ctx.events?.committed(count);
    deleted += count;
    if (count < batchSize) break;
    const rest = pace ? (performance.now() - started) / 2 : 0;
    await new Promise((resolve) =>
      rest >= 1 ? setTimeout(resolve, Math.ceil(rest)) : setImmediate(resolve),
    );
  }
  return { deleted };
}

/** One primary-key lookup: the database answers, or `storage_unavailable`. */
export async function ping(ctx: EngineContext): Promise<void> {
  try {
    await ctx.storage.getGuest('ping');
  } catch (cause) {
    if (cause instanceof GuestmodeError) throw cause;
    throw new GuestmodeError('storage_unavailable', 'The database is unavailable.', { cause });
  }
}
