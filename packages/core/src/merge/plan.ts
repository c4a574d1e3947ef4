import { encodeAttributeValue } from '../attributes.js';
import { assertWithinLimits } from '../storage/checks.js';
import type {
  MergePlan,
  MergeTransaction,
  StorageLimits,
  StoredAttribute,
} from '../storage/types.js';
import { type BuiltInRuleName, type MergeConflict, type MergeRule, ruleName } from './rules.js';

/** What happened to one attribute. Item counts are given for list values (carts, drafts). */
export interface MergeChange {
  readonly attribute: string;
  readonly rule: BuiltInRuleName | 'custom';
  readonly outcome: 'copied' | 'combined' | 'kept-user' | 'kept-guest' | 'removed';
  readonly userItems?: number;
  readonly guestItems?: number;
  readonly resultItems?: number;
}

/** The answer of a merge, stored with the merged guest and returned again to retries. */
export interface MergeResult {
  readonly userId: string;
  readonly guestId: string;
  readonly mergedAt: string;
  /** The user's values of every attribute the guest had, after the merge. */
  readonly attributes: Record<string, unknown>;
  readonly changes: readonly MergeChange[];
  readonly conflicts: readonly MergeConflict[];
}

/** A merge computed and rolled back: the before and after of each affected attribute. */
export interface MergePreview extends MergeResult {
  readonly before: {
    readonly user: Record<string, unknown>;
    readonly guest: Record<string, unknown>;
  };
  readonly after: Record<string, unknown>;
  /** True when the guest was already merged into this user: `after` is that merge's result. */
  readonly alreadyMerged?: boolean;
}

interface PlanInput {
  readonly guestId: string;
  readonly userId: string;
  readonly now: number;
  readonly guest: readonly StoredAttribute[];
  readonly user: readonly StoredAttribute[];
  readonly transaction: MergeTransaction;
  readonly preview: boolean;
  readonly engine: { ruleFor(name: string): MergeRule; readonly limits: StorageLimits };
}

function items(value: unknown): number | undefined {
  return Array.isArray(value) ? value.length : undefined;
}

/**
 * Applies each attribute's rule, checks the limits of the resulting profile, and describes the
 * result. Runs inside the merge transaction; any throw rolls the merge back.
 */
export async function planMerge(input: PlanInput): Promise<MergePlan> {
  const { guestId, userId, now, engine } = input;
  const userByName = new Map(input.user.map((a) => [a.name, a]));
  const writes: StoredAttribute[] = [];
  const deletes: string[] = [];
  const attributes: Record<string, unknown> = {};
  const changes: MergeChange[] = [];
  const conflicts: MergeConflict[] = [];
  const beforeUser: Record<string, unknown> = {};
  const beforeGuest: Record<string, unknown> = {};

  for (const guestAttribute of input.guest) {
    const name = guestAttribute.name;
    const guestValue = JSON.parse(guestAttribute.value) as unknown;
    const userAttribute = userByName.get(name);
    const userValue = userAttribute ? (JSON.parse(userAttribute.value) as unknown) : undefined;
    beforeGuest[name] = guestValue;
    if (userAttribute) beforeUser[name] = userValue;
    const rule = engine.ruleFor(name);
    const outcome = await rule({
      name,
      guest: { value: guestValue, updatedAt: guestAttribute.updatedAt },
      user: userAttribute ? { value: userValue, updatedAt: userAttribute.updatedAt } : undefined,
      guestId,
      userId,
      preview: input.preview,
      transaction: input.transaction,
    });
    if (!outcome || typeof outcome !== 'object' || !('value' in outcome)) {
      throw new TypeError(`The merge rule for "${name}" must return { value, outcome }`);
    }
    if (outcome.value === undefined) {
      if (userAttribute) deletes.push(name);
    } else {
      const json = encodeAttributeValue(name, outcome.value, engine.limits.maxValueBytes);
      if (json !== userAttribute?.value) writes.push({ name, value: json, updatedAt: now });
      attributes[name] = outcome.value;
    }
    const userItems = items(userValue);
    const guestItems = items(guestValue);
    const resultItems = items(outcome.value);
    changes.push({
      attribute: name,
      rule: ruleName(rule),
      outcome: outcome.value === undefined ? 'removed' : outcome.outcome,
      ...(userItems === undefined ? {} : { userItems }),
      ...(guestItems === undefined ? {} : { guestItems }),
      ...(resultItems === undefined ? {} : { resultItems }),
    });
    if (outcome.conflicts) conflicts.push(...outcome.conflicts);
  }

  // The merged profile must respect the same limits as any write.
  const written = new Map(writes.map((w) => [w.name, w]));
  let count = 0;
  let bytes = 0;
  for (const a of input.user) {
    if (deletes.includes(a.name) || written.has(a.name)) continue;
    count++;
    bytes += Buffer.byteLength(a.value);
  }
  for (const w of writes) {
    count++;
    bytes += Buffer.byteLength(w.value);
  }
  assertWithinLimits(count, bytes, engine.limits);

  const result: MergeResult = {
    userId,
    guestId,
    mergedAt: new Date(now).toISOString(),
    attributes,
    changes,
    conflicts,
  };
  const answer: MergeResult | MergePreview = input.preview
    ? { ...result, before: { user: beforeUser, guest: beforeGuest }, after: attributes }
    : result;
  return { writes, deletes, result: JSON.stringify(answer) };
}
