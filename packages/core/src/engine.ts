import {
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  createAccessTokenVerifier,
  type VerifiedAccessToken,
} from './access-token.js';
import { assertAttributeName, encodeValue } from './attributes.js';
import { generateCredential, hashSecret, parseCredential, secretMatches } from './credential.js';
import { parseDuration } from './duration.js';
import { GuestmodeError } from './errors.js';
import type { MergePreview, MergeResult } from './merge/plan.js';
import { planMerge } from './merge/plan.js';
import {
  BUILT_IN_RULES,
  type BuiltInRuleName,
  builtInRules,
  type MergeRule,
  ruleName,
} from './merge/rules.js';
import { assertWithinLimits } from './storage/checks.js';
import type {
  GuestRow,
  GuestStats,
  GuestStorage,
  MergeOutcome,
  Principal,
  StorageLimits,
  StoredAttribute,
} from './storage/types.js';

export interface GuestmodeOptions {
  /** Where guests and attributes live: `openSqliteStorage(...)` or `openPostgresStorage(...)`. */
  readonly storage: GuestStorage;
  /**
   * How long a guest lives after its last activity: `30d` (default), `12h`, or seconds. The
   * expiry slides forward when less than half of it is left, so reads do not write.
   */
  readonly guestTtl?: string | number;
  readonly limits?: {
    /** Largest attribute value in bytes of JSON. Default 64 KiB. */
    readonly maxValueBytes?: number;
    /** Largest profile (all attributes of one guest or user) in bytes. Default 1 MiB. */
    readonly maxProfileBytes?: number;
    /** Most attributes in one profile. Default 256. */
    readonly maxAttributes?: number;
  };
  /**
   * Merge rule per attribute name: a built-in rule name or a function. A key ending in `*`
   * matches every attribute with that prefix (`"draft:*": "transfer"`); exact names win over
   * prefixes, longer prefixes over shorter ones.
   */
  readonly mergeRules?: Readonly<Record<string, BuiltInRuleName | MergeRule>>;
  /** The rule for attributes both profiles have and no rule names. Default `user-wins`. */
  readonly defaultMergeRule?: BuiltInRuleName | MergeRule;
  /** How to verify the provider's access tokens (needed by `verifyAccessToken`). */
  readonly accessTokens?: AccessTokenVerifierOptions | AccessTokenVerifier;
  /** The clock, in epoch milliseconds (tests move it). Default `Date.now`. */
  readonly now?: () => number;
}

/** A guest as the app sees it. */
export interface Guest {
  readonly id: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export interface GuestSession {
  readonly guest: Guest;
  /**
   * True when this call extended the guest's lifetime: re-send the cookie so the browser's
   * copy expires with the guest.
   */
  readonly fresh: boolean;
  /** The guest's attributes as stored (JSON text); {@link toProfile} parses them. */
  readonly attributes: readonly StoredAttribute[];
}

export interface MergeOptions {
  /** The guest credential (`gm_...`) presented by the client. */
  readonly guestToken: string;
  /** The user's id, taken from a verified access token (`sub`), never from a request body. */
  readonly userId: string;
}

export interface MergeResponse {
  readonly result: MergeResult;
  /** The same result as JSON text, as stored (send it as it is instead of re-serialising). */
  readonly resultJson: string;
  /** True when this call only replayed an earlier merge of the same guest into the same user. */
  readonly replayed: boolean;
}

const DEFAULT_TTL_MS = 30 * 86_400_000;
const DEFAULT_LIMITS: StorageLimits = {
  maxValueBytes: 64 * 1024,
  maxProfileBytes: 1024 * 1024,
  maxAttributes: 256,
};

/** Parses stored attributes into a plain object (the profile's public shape). */
export function toProfile(attributes: readonly StoredAttribute[]): Record<string, unknown> {
  const profile: Record<string, unknown> = {};
  for (const a of attributes) profile[a.name] = JSON.parse(a.value);
  return profile;
}

function toGuest(row: Omit<GuestRow, 'mergeResult'>): Guest {
  return { id: row.id, createdAt: new Date(row.createdAt), expiresAt: new Date(row.expiresAt) };
}

function positiveInteger(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`${path} must be a positive integer`);
  }
  return value;
}

function resolveRule(rule: unknown, path: string): MergeRule {
  if (typeof rule === 'function') return rule as MergeRule;
  if (typeof rule === 'string' && (BUILT_IN_RULES as readonly string[]).includes(rule)) {
    return builtInRules[rule as BuiltInRuleName];
  }
  throw new TypeError(`${path} must be one of ${BUILT_IN_RULES.join(', ')} or a function`);
}

const RULE_KEY = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\*?$|^\*$/;

/**
 * The guest engine: guest sessions, anonymous profiles, and the exactly-once merge into a user.
 * Options are validated here, once; every error names the option.
 *
 * @example
 * ```ts
 * const guestmode = createGuestmode({
 *   storage: await openSqliteStorage({ database: './data/guestmode.db' }),
 *   mergeRules: { cart: 'sum-by-key', drafts: 'transfer', theme: 'user-wins' },
 *   accessTokens: { issuer: 'http://localhost:3001/oidc', audience: 'https://api.bookstore.local' },
 * });
 * const { guest, token } = await guestmode.createGuest({ cart: [{ id: 'book-1', quantity: 1 }] });
 * // ...the visitor signs in...
 * const { userId } = await guestmode.verifyAccessToken(accessToken);
 * const { result } = await guestmode.merge({ guestToken: token, userId });
 * ```
 */
export function createGuestmode(options: GuestmodeOptions): Guestmode {
  return new Guestmode(options);
}

export class Guestmode {
  readonly #storage: GuestStorage;
  readonly #ttlMs: number;
  readonly #limits: StorageLimits;
  /** What a merge plan needs of the engine: made once, shared by every merge. */
  readonly #planContext: { ruleFor(name: string): MergeRule; readonly limits: StorageLimits };
  readonly #now: () => number;
  readonly #exactRules = new Map<string, MergeRule>();
  readonly #prefixRules: [prefix: string, rule: MergeRule][] = [];
  readonly #defaultRule: MergeRule;
  /** True when every configured rule is built in: merges then never wait for app code. */
  readonly #builtInRulesOnly: boolean;
  readonly #verifier: AccessTokenVerifier | undefined;

  constructor(options: GuestmodeOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
    const storage = options.storage;
    if (!storage || typeof storage.merge !== 'function') {
      throw new TypeError('options.storage must be a Guestmode storage adapter');
    }
    this.#storage = storage;
    const ttl = options.guestTtl === undefined ? DEFAULT_TTL_MS : parseDuration(options.guestTtl);
    if (ttl === undefined || ttl < 60_000) {
      throw new TypeError('options.guestTtl must be a duration of at least 1m, such as "30d"');
    }
    this.#ttlMs = ttl;
    const limits = options.limits ?? {};
    this.#limits = {
      maxValueBytes: positiveInteger(
        limits.maxValueBytes,
        'options.limits.maxValueBytes',
        DEFAULT_LIMITS.maxValueBytes,
      ),
      maxProfileBytes: positiveInteger(
        limits.maxProfileBytes,
        'options.limits.maxProfileBytes',
        DEFAULT_LIMITS.maxProfileBytes,
      ),
      maxAttributes: positiveInteger(
        limits.maxAttributes,
        'options.limits.maxAttributes',
        DEFAULT_LIMITS.maxAttributes,
      ),
    };
    if (this.#limits.maxValueBytes > this.#limits.maxProfileBytes) {
      throw new TypeError('options.limits.maxValueBytes must not exceed maxProfileBytes');
    }
    for (const [key, rule] of Object.entries(options.mergeRules ?? {})) {
      if (!RULE_KEY.test(key)) {
        throw new TypeError(`options.mergeRules: "${key}" is not an attribute name or prefix*`);
      }
      const resolved = resolveRule(rule, `options.mergeRules["${key}"]`);
      if (key.endsWith('*')) this.#prefixRules.push([key.slice(0, -1), resolved]);
      else this.#exactRules.set(key, resolved);
    }
    this.#prefixRules.sort((a, b) => b[0].length - a[0].length);
    this.#defaultRule = resolveRule(
      options.defaultMergeRule ?? 'user-wins',
      'options.defaultMergeRule',
    );
    this.#builtInRulesOnly = [
      ...this.#exactRules.values(),
      ...this.#prefixRules.map(([, rule]) => rule),
      this.#defaultRule,
    ].every((rule) => ruleName(rule) !== 'custom');
    const tokens = options.accessTokens;
    this.#verifier =
      tokens === undefined
        ? undefined
        : typeof (tokens as AccessTokenVerifier).verify === 'function'
          ? (tokens as AccessTokenVerifier)
          : createAccessTokenVerifier(tokens as AccessTokenVerifierOptions);
    this.#now = options.now ?? Date.now;
    this.#planContext = { ruleFor: (name) => this.#ruleFor(name), limits: this.#limits };
  }

  /** The rule that merges attribute `name`. */
  #ruleFor(name: string): MergeRule {
    const exact = this.#exactRules.get(name);
    if (exact) return exact;
    for (const [prefix, rule] of this.#prefixRules) if (name.startsWith(prefix)) return rule;
    return this.#defaultRule;
  }

  /**
   * Creates a guest, with its first attributes in the same transaction (the lazy "first
   * meaningful write"). A value may be a {@link RawJson} to store JSON text as it is. The token
   * is shown once: only its hash is stored.
   */
  async createGuest(
    attributes: Readonly<Record<string, unknown>> = {},
  ): Promise<{ guest: Guest; token: string }> {
    const now = this.#now();
    const stored = this.#encodeAll(attributes, now);
    return this.#insertGuest(stored, now);
  }

  async #insertGuest(
    attributes: StoredAttribute[],
    now: number,
  ): Promise<{ guest: Guest; token: string }> {
    let bytes = 0;
    for (const a of attributes) bytes += Buffer.byteLength(a.value);
    assertWithinLimits(attributes.length, bytes, this.#limits);
    const { guestId, secret, token } = generateCredential(now);
    const row = {
      id: guestId,
      secretHash: hashSecret(secret),
      createdAt: now,
      expiresAt: now + this.#ttlMs,
    };
    await this.#storage.createGuest(row, attributes);
    return {
      guest: { id: guestId, createdAt: new Date(now), expiresAt: new Date(row.expiresAt) },
      token,
    };
  }

  #encodeAll(attributes: Readonly<Record<string, unknown>>, now: number): StoredAttribute[] {
    if (!attributes || typeof attributes !== 'object') {
      throw new TypeError('attributes must be an object');
    }
    return Object.entries(attributes).map(([name, value]) => {
      assertAttributeName(name);
      return {
        name,
        value: encodeValue(name, value, this.#limits.maxValueBytes),
        updatedAt: now,
      };
    });
  }

  /**
   * Checks a guest credential and returns the guest with its attributes, or throws with the
   * reason: `invalid_guest_credential` (unknown, forged, malformed), `guest_expired`,
   * `guest_merged` (the credential was used up by a merge: sign in instead).
   */
  async authenticateGuest(token: string): Promise<GuestSession> {
    const parsed = parseCredential(token);
    if (!parsed) {
      throw new GuestmodeError('invalid_guest_credential', 'The guest credential is not valid.');
    }
    const found = await this.#storage.getGuestWithAttributes(parsed.guestId);
    if (!found || !secretMatches(parsed.secret, found.guest.secretHash)) {
      throw new GuestmodeError('invalid_guest_credential', 'The guest credential is not valid.');
    }
    const { guest, attributes } = found;
    if (guest.mergedInto !== null) {
      throw new GuestmodeError(
        'guest_merged',
        'This guest has been merged into an account; sign in instead.',
      );
    }
    const now = this.#now();
    if (guest.expiresAt <= now) {
      throw new GuestmodeError('guest_expired', 'This guest session has expired.');
    }
    // Sliding expiry without a write per read: extend only once half the lifetime is used.
    if (guest.expiresAt - now < this.#ttlMs / 2) {
      const expiresAt = now + this.#ttlMs;
      await this.#storage.extendGuest(guest.id, expiresAt);
      return {
        guest: { ...toGuest(guest), expiresAt: new Date(expiresAt) },
        fresh: true,
        attributes,
      };
    }
    return { guest: toGuest(guest), fresh: false, attributes };
  }

  /** {@link authenticateGuest} that answers `null` instead of throwing on a bad credential. */
  async validateGuest(token: string): Promise<GuestSession | null> {
    try {
      return await this.authenticateGuest(token);
    } catch (error) {
      if (error instanceof GuestmodeError && error.status < 500) return null;
      throw error;
    }
  }

  /** All attributes of a guest or user, parsed. */
  async getAttributes(principal: Principal): Promise<Record<string, unknown>> {
    return toProfile(await this.#storage.readAttributes(checkPrincipal(principal)));
  }

  /** One attribute, parsed; `undefined` when absent. */
  async getAttribute(principal: Principal, name: string): Promise<unknown> {
    assertAttributeName(name);
    const all = await this.#storage.readAttributes(checkPrincipal(principal));
    const found = all.find((a) => a.name === name);
    return found === undefined ? undefined : JSON.parse(found.value);
  }

  /**
   * Sets one attribute. Refuses oversized values and profiles without changing anything, and
   * refuses writes to a guest that is merged or expired (the write would otherwise be lost).
   * `value` may be a {@link RawJson} to store JSON text as it is.
   */
  async setAttribute(principal: Principal, name: string, value: unknown): Promise<void> {
    assertAttributeName(name);
    const json = encodeValue(name, value, this.#limits.maxValueBytes);
    const now = this.#now();
    await this.#storage.putAttribute(
      checkPrincipal(principal),
      { name, value: json, updatedAt: now },
      this.#limits,
      now,
    );
  }

  /**
   * Sets one attribute of the guest whose credential is presented, in one atomic step: the
   * credential is checked, the guest's state re-checked, the limits enforced and the expiry slid
   * inside the write's transaction (one round trip, no separate authentication read). Throws
   * like {@link authenticateGuest} for a bad, expired or merged credential. `value` may be a
   * {@link RawJson}.
   *
   * @returns the guest after the write; `fresh` when its lifetime was extended (re-send the cookie).
   */
  async setGuestAttribute(
    guestToken: string,
    name: string,
    value: unknown,
  ): Promise<{ guest: Guest; fresh: boolean }> {
    assertAttributeName(name);
    return this.#putWithCredential(
      guestToken,
      name,
      encodeValue(name, value, this.#limits.maxValueBytes),
    );
  }

  async #putWithCredential(
    guestToken: string,
    name: string,
    json: string,
  ): Promise<{ guest: Guest; fresh: boolean }> {
    const parsed = parseCredential(guestToken);
    if (!parsed) {
      throw new GuestmodeError('invalid_guest_credential', 'The guest credential is not valid.');
    }
    const now = this.#now();
    const times = (await this.#storage.putAttribute(
      { kind: 'guest', id: parsed.guestId },
      { name, value: json, updatedAt: now },
      this.#limits,
      now,
      {
        secretHash: hashSecret(parsed.secret),
        slideTo: now + this.#ttlMs,
        slideWhenBefore: now + this.#ttlMs / 2,
      },
    ))!;
    return {
      guest: {
        id: parsed.guestId,
        createdAt: new Date(times.createdAt),
        expiresAt: new Date(times.expiresAt),
      },
      fresh: times.extended,
    };
  }

  /** Deletes one attribute; `false` when it did not exist. */
  async deleteAttribute(principal: Principal, name: string): Promise<boolean> {
    assertAttributeName(name);
    return this.#storage.deleteAttribute(checkPrincipal(principal), name, this.#now());
  }

  /** True when the engine was given `accessTokens`, so {@link verifyAccessToken} can be used. */
  get verifiesAccessTokens(): boolean {
    return this.#verifier !== undefined;
  }

  /**
   * Checks that the database answers (one primary-key lookup), for health checks.
   * @throws GuestmodeError `storage_unavailable`
   */
  async ping(): Promise<void> {
    try {
      await this.#storage.getGuest('ping');
    } catch (cause) {
      if (cause instanceof GuestmodeError) throw cause;
      throw new GuestmodeError('storage_unavailable', 'The database is unavailable.', { cause });
    }
  }

  /**
   * Verifies a provider access token; the user id is its `sub`.
   * @throws GuestmodeError `invalid_access_token`, or `provider_unavailable` (503)
   */
  async verifyAccessToken(token: string): Promise<VerifiedAccessToken> {
    if (!this.#verifier) {
      throw new TypeError('verifyAccessToken needs options.accessTokens');
    }
    return this.#verifier.verify(token);
  }

  /**
   * Merges the guest whose credential is presented into the user, exactly once: in one
   * transaction the guest is locked and checked, each attribute is merged by its rule, the
   * user's profile is written, and the guest is marked merged (its credential stops working).
   * A retry for the same user returns the first result (`replayed: true`); a merge into another
   * user fails with `guest_already_merged`. Other guests of the same person (other tabs or
   * devices) are untouched and can be merged later with their own credentials.
   */
  async merge(options: MergeOptions): Promise<MergeResponse> {
    const outcome = await this.#runMerge(options, false);
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

  /** What {@link merge} would do, computed in a transaction that is rolled back. */
  async previewMerge(options: MergeOptions): Promise<MergePreview> {
    const outcome = await this.#runMerge(options, true);
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

  async #runMerge(options: MergeOptions, preview: boolean): Promise<MergeOutcome> {
    const { guestId, userId } = await this.#checkMergeInput(options);
    const now = this.#now();
    return this.#storage.merge({
      guestId,
      userId,
      now,
      retainUntil: now + this.#ttlMs,
      preview,
      batchable: this.#builtInRulesOnly,
      plan: (guest, user, transaction) =>
        planMerge({
          guestId,
          userId,
          now,
          guest,
          user,
          transaction,
          preview,
          engine: this.#planContext,
        }),
    });
  }

  async #checkMergeInput(options: MergeOptions): Promise<{ guestId: string; userId: string }> {
    if (!options || typeof options.userId !== 'string' || options.userId.length === 0) {
      throw new TypeError("merge needs a userId (the verified access token's sub)");
    }
    if (options.userId.length > 255) {
      throw new GuestmodeError('invalid_access_token', 'The user id is too long.');
    }
    const parsed = parseCredential(options.guestToken);
    if (!parsed) {
      throw new GuestmodeError('invalid_guest_credential', 'The guest credential is not valid.');
    }
    // The secret is checked before the transaction; the state is checked again under lock.
    const guest = await this.#storage.getGuest(parsed.guestId);
    if (!guest || !secretMatches(parsed.secret, guest.secretHash)) {
      throw new GuestmodeError('invalid_guest_credential', 'The guest credential is not valid.');
    }
    return { guestId: parsed.guestId, userId: options.userId };
  }

  /**
   * Deletes the guest whose credential is presented, with its attributes: for a visitor who
   * discards their guest data (or declines to merge a guest they do not recognise). A merged
   * guest is not deleted (its record answers merge retries). `false` when nothing was deleted;
   * a credential that does not verify deletes nothing and answers `false` too.
   */
  async deleteGuest(guestToken: string): Promise<boolean> {
    const parsed = parseCredential(guestToken);
    if (!parsed) return false;
    const guest = await this.#storage.getGuest(parsed.guestId);
    if (!guest || !secretMatches(parsed.secret, guest.secretHash)) return false;
    return this.#storage.deleteGuest(parsed.guestId);
  }

  /**
   * Deletes expired guests in batches, one short transaction each, yielding to other work
   * between batches so that requests are never blocked for long. The defaults come from the
   * store (`storage.purgePolicy`): a store that deletes on the event loop takes small batches and
   * rests between them.
   */
  async purgeExpired(
    options: {
      /** Guests per batch. Default: the store's. */
      batchSize?: number;
      maxBatches?: number;
      signal?: AbortSignal;
      /** Rest between batches half as long as each took. Default: the store's. */
      pace?: boolean;
    } = {},
  ): Promise<{ deleted: number }> {
    const policy = this.#storage.purgePolicy;
    const batchSize = positiveInteger(options.batchSize, 'batchSize', policy.batchSize);
    const maxBatches = options.maxBatches ?? Number.POSITIVE_INFINITY;
    const pace = options.pace ?? policy.paced;
    let deleted = 0;
    for (let batch = 0; batch < maxBatches && !options.signal?.aborted; batch++) {
      const started = performance.now();
      const count = await this.#storage.purgeExpired(this.#now(), batchSize);
      deleted += count;
      if (count < batchSize) break;
      const rest = pace ? (performance.now() - started) / 2 : 0;
      await new Promise((resolve) =>
        rest >= 1 ? setTimeout(resolve, Math.ceil(rest)) : setImmediate(resolve),
      );
    }
    return { deleted };
  }

  stats(): Promise<GuestStats> {
    return this.#storage.stats(this.#now());
  }

  close(): Promise<void> {
    return this.#storage.close();
  }
}

function checkPrincipal(principal: Principal): Principal {
  if (
    !principal ||
    (principal.kind !== 'guest' && principal.kind !== 'user') ||
    typeof principal.id !== 'string' ||
    principal.id.length === 0 ||
    principal.id.length > 255
  ) {
    throw new TypeError('principal must be { kind: "guest" | "user", id: string }');
  }
  return principal;
}
