import {
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  createAccessTokenVerifier,
} from '../access-token.js';
import { checkEventsOptions } from '../events/options.js';
import { type MergeRule, ruleName } from '../merge/rules.js';
import { GuestmodeMetrics } from '../metrics.js';
import { type CheckedPurgeOptions, checkGuestmodeOptions } from '../options.js';
import { createGuestCreationLimiter, type GuestCreationLimiter } from '../rate-limit.js';
import type { GuestStorage, StorageLimits } from '../storage/types.js';
import { EngineEvents } from './events.js';

/**
 * What the engine's operations share: the checked options, resolved once at construction so
 * that no request pays for a lookup or a default.
 */
export interface EngineContext {
  readonly storage: GuestStorage;
  readonly ttlMs: number;
  readonly limits: StorageLimits;
  readonly now: () => number;
  /** What a merge plan needs of the engine: made once, shared by every merge. */
  readonly plan: { ruleFor(name: string): MergeRule; readonly limits: StorageLimits };
  /** True when every configured rule is built in: merges then never wait for app code. */
  readonly builtInRulesOnly: boolean;
  readonly verifier: AccessTokenVerifier | undefined;
  readonly purge: CheckedPurgeOptions;
  /** `undefined` when the app switched the guest-creation limit off. */
  readonly limiter: GuestCreationLimiter | undefined;
  readonly metrics: GuestmodeMetrics;
  /** `undefined` without a consumer of events: then no operation writes one. */
  readonly events: EngineEvents | undefined;
}

/** Checks the options (unknown keys refused, every error naming its path) and fills defaults. */
export function createEngineContext(options: unknown): EngineContext {
  const checked = checkGuestmodeOptions(options);
  const { exactRules, prefixRules, defaultRule, limits } = checked;
  const ruleFor = (name: string): MergeRule => {
    const exact = exactRules.get(name);
    if (exact) return exact;
    for (const [prefix, rule] of prefixRules) if (name.startsWith(prefix)) return rule;
    return defaultRule;
  };
  const rules = [...exactRules.values(), ...prefixRules.map(([, rule]) => rule), defaultRule];
  const events = checkEventsOptions((options as { events?: unknown }).events, 'options.events');
  return {
    storage: checked.storage,
    ttlMs: checked.ttlMs,
    limits,
    now: checked.now,
    plan: { ruleFor, limits },
    builtInRulesOnly: rules.every((rule) => ruleName(rule) !== 'custom'),
    verifier: toVerifier(checked.accessTokens),
    purge: checked.purge,
    events: events && new EngineEvents(checked.storage, events, checked.now),
    metrics: new GuestmodeMetrics(() => checked.storage.stats(checked.now())),
    limiter:
      checked.guestCreationLimit === false
        ? undefined
        : createGuestCreationLimiter(checked.guestCreationLimit, {
            sharedPool: checked.storage.sharedPool,
            now: checked.now,
          }),
  };
}

function toVerifier(
  tokens: AccessTokenVerifierOptions | AccessTokenVerifier | undefined,
): AccessTokenVerifier | undefined {
  if (tokens === undefined) return undefined;
  if (typeof (tokens as AccessTokenVerifier).verify === 'function') {
    return tokens as AccessTokenVerifier;
  }
  return createAccessTokenVerifier(tokens as AccessTokenVerifierOptions, 'options.accessTokens');
}
