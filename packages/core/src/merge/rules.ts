import { GuestmodeError } from '../errors.js';
import type { MergeTransaction } from '../storage/types.js';

/** The rules Guestmode ships, by the names used in configuration files. */
export type BuiltInRuleName =
  | 'sum-by-key'
  | 'union-by-key'
  | 'guest-wins'
  | 'user-wins'
  | 'newest-wins'
  | 'transfer';

export const BUILT_IN_RULES: readonly BuiltInRuleName[] = [
  'sum-by-key',
  'union-by-key',
  'guest-wins',
  'user-wins',
  'newest-wins',
  'transfer',
];

export interface RuleSide {
  readonly value: unknown;
  /** When this side last wrote the attribute (epoch ms). */
  readonly updatedAt: number;
}

export interface MergeRuleInput {
  /** The attribute's name. */
  readonly name: string;
  readonly guest: RuleSide;
  /** `undefined` when the user has no such attribute yet. */
  readonly user: RuleSide | undefined;
  readonly guestId: string;
  readonly userId: string;
  /** True during a preview: the transaction will be rolled back whatever the rule does. */
  readonly preview: boolean;
  /** The open transaction, for rules that move the app's own rows with the guest. */
  readonly transaction: MergeTransaction;
}

/** Something the user may want to know about: two versions of one thing, one kept. */
export interface MergeConflict {
  readonly attribute: string;
  /** The line or document id inside the attribute, when the conflict is about one element. */
  readonly key?: string;
  readonly kept: 'user' | 'guest';
  /** The version that was not kept (kept with the merge record, so nothing vanishes silently). */
  readonly discarded: unknown;
}

export interface MergeRuleResult {
  /** The user's new value; `undefined` removes the attribute from the user's profile. */
  readonly value: unknown;
  /** How the two sides were combined, for previews and the merge record. */
  readonly outcome: 'copied' | 'combined' | 'kept-user' | 'kept-guest' | 'removed';
  readonly conflicts?: readonly MergeConflict[];
}

/**
 * A merge rule decides the user's value of one attribute from the guest's and the user's. It runs
 * inside the merge transaction; throwing aborts the whole merge and changes nothing.
 */
export type MergeRule = (input: MergeRuleInput) => MergeRuleResult | Promise<MergeRuleResult>;

function fail(name: string, detail: string): never {
  throw new GuestmodeError('merge_rule_failed', `Cannot merge "${name}": ${detail}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function keyOf(item: unknown): string | undefined {
  if (!isRecord(item)) return undefined;
  const id = item.id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))
    ? String(id)
    : undefined;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The newer write wins; the user wins a tie (their account is the durable one). */
function newerSide(input: MergeRuleInput): 'user' | 'guest' {
  return input.user && input.user.updatedAt >= input.guest.updatedAt ? 'user' : 'guest';
}

/**
 * Carts: arrays of line items `{ id, quantity, ... }`. Lines with the same `id` become one line
 * whose quantity is the sum (other fields from the user's line); lines only one side has are
 * kept. Total quantity is conserved.
 */
const sumByKey: MergeRule = ({ name, guest, user }) => {
  const lines = new Map<string, Record<string, unknown>>();
  const add = (value: unknown, side: string) => {
    if (!Array.isArray(value)) fail(name, `the ${side}'s value is not a list of line items`);
    for (const item of value) {
      const key = keyOf(item);
      const quantity = isRecord(item) ? item.quantity : undefined;
      if (key === undefined || typeof quantity !== 'number' || !Number.isFinite(quantity)) {
        fail(name, `every ${side} line needs an "id" and a numeric "quantity"`);
      }
      const existing = lines.get(key);
      if (existing) existing.quantity = (existing.quantity as number) + quantity;
      else lines.set(key, { ...(item as Record<string, unknown>) });
    }
  };
  if (user) add(user.value, 'user');
  add(guest.value, 'guest');
  return { value: [...lines.values()], outcome: user ? 'combined' : 'copied' };
};

/**
 * Collections keyed by `id`: arrays of objects with `id`. Both sides' elements are kept; for an
 * id both have, the element of the side that wrote the attribute last wins, and the other is
 * reported as a conflict.
 */
const unionByKey: MergeRule = (input) => {
  const { name, guest, user } = input;
  if (!user) return { value: guest.value, outcome: 'copied' };
  const winner = newerSide(input);
  const conflicts: MergeConflict[] = [];
  if (!Array.isArray(user.value) || !Array.isArray(guest.value)) {
    fail(name, 'values must be lists of elements with an "id"');
  }
  const merged = new Map<string, unknown>();
  for (const item of user.value) {
    const key = keyOf(item);
    if (key === undefined) fail(name, 'every user element needs an "id"');
    merged.set(key, item);
  }
  for (const item of guest.value) {
    const key = keyOf(item);
    if (key === undefined) fail(name, 'every guest element needs an "id"');
    const existing = merged.get(key);
    if (existing === undefined) merged.set(key, item);
    else if (!sameJson(existing, item)) {
      if (winner === 'guest') merged.set(key, item);
      conflicts.push({
        attribute: name,
        key,
        kept: winner,
        discarded: winner === 'guest' ? existing : item,
      });
    }
  }
  return { value: [...merged.values()], outcome: 'combined', conflicts };
};

function wholeValue(pick: (input: MergeRuleInput) => 'user' | 'guest'): MergeRule {
  return (input) => {
    const { name, guest, user } = input;
    if (!user) return { value: guest.value, outcome: 'copied' };
    const side = pick(input);
    const same = sameJson(user.value, guest.value);
    return {
      value: side === 'user' ? user.value : guest.value,
      outcome: side === 'user' ? 'kept-user' : 'kept-guest',
      conflicts: same
        ? []
        : [{ attribute: name, kept: side, discarded: side === 'user' ? guest.value : user.value }],
    };
  };
}

const newestWins = wholeValue(newerSide);

/**
 * Documents the guest owns (drafts) become the user's. A list of documents with ids is merged
 * document by document; any other value is one document. Where both own the same document, the
 * newer is kept and the other is reported as a conflict (and kept in the merge record).
 */
const transfer: MergeRule = (input) =>
  Array.isArray(input.guest.value) && (!input.user || Array.isArray(input.user.value))
    ? unionByKey(input)
    : newestWins(input);

export const builtInRules: Readonly<Record<BuiltInRuleName, MergeRule>> = {
  'sum-by-key': sumByKey,
  'union-by-key': unionByKey,
  'guest-wins': wholeValue(() => 'guest'),
  'user-wins': wholeValue(() => 'user'),
  'newest-wins': newestWins,
  transfer,
};

/** The configuration name of a rule, for merge records and previews. */
export function ruleName(rule: MergeRule): BuiltInRuleName | 'custom' {
  for (const name of BUILT_IN_RULES) if (builtInRules[name] === rule) return name;
  return 'custom';
}
