import { encodeAttributeValue } from '../attributes.js';
import { assertWithinLimits } from '../storage/checks.js';
import type {
  MergePlan,
  MergeTransaction,
  StorageLimits,
  StoredAttribute,
} from '../storage/types.js';
import {
  type BuiltInRuleName,
  type MergeConflict,
  type MergeRule,
  type MergeRuleResult,
  ruleName,
} from './rules.js';

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
 * result. Runs inside the merge transaction; any throw rolls the merge back. Synchronous as long
 * as the rules are (every built-in rule is), so that a store can run the whole merge inside a
 * shared transaction; the first rule that returns a promise makes the rest of the plan async,
 * still one rule after another.
 */
export function planMerge(input: PlanInput): MergePlan | Promise<MergePlan> {
  const plan = new Plan(input);
  const step = (index: number): MergePlan | Promise<MergePlan> => {
    for (let i = index; i < input.guest.length; i++) {
      const call = plan.call(input.guest[i]!);
      if (isPromiseLike(call.outcome)) {
        return Promise.resolve(call.outcome).then((outcome) => {
          plan.record(call, outcome);
          return step(i + 1);
        });
      }
      plan.record(call, call.outcome);
    }
    return plan.finish();
  };
  return step(0);
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

interface RuleCall {
  readonly name: string;
  readonly rule: MergeRule;
  readonly guestValue: unknown;
  readonly userValue: unknown;
  readonly userAttribute: StoredAttribute | undefined;
  readonly outcome: MergeRuleResult | Promise<MergeRuleResult>;
}

class Plan {
  readonly #input: PlanInput;
  readonly #userByName: Map<string, StoredAttribute>;
  readonly #writes: StoredAttribute[] = [];
  readonly #deletes: string[] = [];
  readonly #attributes: Record<string, unknown> = {};
  readonly #changes: MergeChange[] = [];
  readonly #conflicts: MergeConflict[] = [];
  readonly #beforeUser: Record<string, unknown> = {};
  readonly #beforeGuest: Record<string, unknown> = {};

  constructor(input: PlanInput) {
    this.#input = input;
    this.#userByName = new Map(input.user.map((a) => [a.name, a]));
  }

  call(guestAttribute: StoredAttribute): RuleCall {
    const { guestId, userId, engine } = this.#input;
    const name = guestAttribute.name;
    const guestValue = JSON.parse(guestAttribute.value) as unknown;
    const userAttribute = this.#userByName.get(name);
    const userValue = userAttribute ? (JSON.parse(userAttribute.value) as unknown) : undefined;
    this.#beforeGuest[name] = guestValue;
    if (userAttribute) this.#beforeUser[name] = userValue;
    const rule = engine.ruleFor(name);
    const outcome = rule({
      name,
      guest: { value: guestValue, updatedAt: guestAttribute.updatedAt },
      user: userAttribute ? { value: userValue, updatedAt: userAttribute.updatedAt } : undefined,
      guestId,
      userId,
      preview: this.#input.preview,
      transaction: this.#input.transaction,
    });
    return { name, rule, guestValue, userValue, userAttribute, outcome };
  }

  record(call: RuleCall, outcome: MergeRuleResult): void {
    const { name, userAttribute } = call;
    if (!outcome || typeof outcome !== 'object' || !('value' in outcome)) {
      throw new TypeError(`The merge rule for "${name}" must return { value, outcome }`);
    }
    if (outcome.value === undefined) {
      if (userAttribute) this.#deletes.push(name);
    } else {
      const json = encodeAttributeValue(
        name,
        outcome.value,
        this.#input.engine.limits.maxValueBytes,
      );
      if (json !== userAttribute?.value) {
        this.#writes.push({ name, value: json, updatedAt: this.#input.now });
      }
      this.#attributes[name] = outcome.value;
    }
    const userItems = items(call.userValue);
    const guestItems = items(call.guestValue);
    const resultItems = items(outcome.value);
    this.#changes.push({
      attribute: name,
      rule: ruleName(call.rule),
      outcome: outcome.value === undefined ? 'removed' : outcome.outcome,
      ...(userItems === undefined ? {} : { userItems }),
      ...(guestItems === undefined ? {} : { guestItems }),
      ...(resultItems === undefined ? {} : { resultItems }),
    });
    if (outcome.conflicts) this.#conflicts.push(...outcome.conflicts);
  }

  finish(): MergePlan {
    const { userId, guestId, now, engine } = this.#input;
    // The merged profile must respect the same limits as any write.
    const written = new Set(this.#writes.map((w) => w.name));
    let count = 0;
    let bytes = 0;
    for (const a of this.#input.user) {
      if (this.#deletes.includes(a.name) || written.has(a.name)) continue;
      count++;
      bytes += Buffer.byteLength(a.value);
    }
    for (const w of this.#writes) {
      count++;
      bytes += Buffer.byteLength(w.value);
    }
    assertWithinLimits(count, bytes, engine.limits);

    const result: MergeResult = {
      userId,
      guestId,
      mergedAt: new Date(now).toISOString(),
      attributes: this.#attributes,
      changes: this.#changes,
      conflicts: this.#conflicts,
    };
    const answer: MergeResult | MergePreview = this.#input.preview
      ? {
          ...result,
          before: { user: this.#beforeUser, guest: this.#beforeGuest },
          after: this.#attributes,
        }
      : result;
    return { writes: this.#writes, deletes: this.#deletes, result: JSON.stringify(answer) };
  }
}
