import type { VerifiedAccessToken } from './access-token.js';
import { assertAttributeName, encodeValue } from './attributes.js';
import { createEngineContext, type EngineContext } from './engine/context.js';
import * as rights from './engine/data-rights.js';
import { type EventRecord, listEvents, resendEvent } from './engine/event-records.js';
import * as guests from './engine/guests.js';
import { type PurgeOptions, ping, purgeExpired } from './engine/maintenance.js';
import * as merging from './engine/merge.js';
import { type PurgeRound, PurgeSchedule, purgeRound } from './engine/purge-schedule.js';
import type * as api from './engine/types.js';
import { toProfile } from './engine/types.js';
import { GuestmodeError } from './errors.js';
import type { MergePreview } from './merge/plan.js';
import type { GuestmodeMetrics } from './metrics.js';
import type { EventState, GuestStats, Principal } from './storage/types.js';

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
export function createGuestmode(options: api.GuestmodeOptions): Guestmode {
  return new Guestmode(options);
}

/**
 * The engine's public face. Each operation lives in a module of `engine/` that takes the
 * context resolved from the options; this class only holds that context.
 */
export class Guestmode {
  readonly #ctx: EngineContext;
  readonly #purge: PurgeSchedule;

  constructor(options: api.GuestmodeOptions) {
    this.#ctx = createEngineContext(options);
    this.#purge = new PurgeSchedule(this.#ctx, this.#ctx.purge);
    this.#ctx.events?.start();
  }

  /**
   * Creates a guest, with its first attributes in the same transaction (the lazy "first
   * meaningful write"). A value may be a {@link RawJson} to store JSON text as it is. The token
   * is shown once: only its hash is stored.
   */
  createGuest(
    attributes: Readonly<Record<string, unknown>> = {},
  ): Promise<{ guest: api.Guest; token: string }> {
    return guests.createGuest(this.#ctx, attributes);
  }

  /**
   * Checks a guest credential and returns the guest with its attributes, or throws with the
   * reason: `invalid_guest_credential` (unknown, forged, malformed), `guest_expired`,
   * `guest_merged` (the credential was used up by a merge: sign in instead).
   */
  authenticateGuest(token: string): Promise<api.GuestSession> {
    return guests.authenticateGuest(this.#ctx, token);
  }

  /** {@link authenticateGuest} that answers `null` instead of throwing on a bad credential. */
  async validateGuest(token: string): Promise<api.GuestSession | null> {
    try {
      return await guests.authenticateGuest(this.#ctx, token);
    } catch (error) {
      if (error instanceof GuestmodeError && error.status < 500) return null;
      throw error;
    }
  }

  /** All attributes of a guest or user, parsed. */
  async getAttributes(principal: Principal): Promise<Record<string, unknown>> {
    return toProfile(await this.#ctx.storage.readAttributes(checkPrincipal(principal)));
  }

  /** One attribute, parsed; `undefined` when absent. */
  async getAttribute(principal: Principal, name: string): Promise<unknown> {
    assertAttributeName(name);
    const all = await this.#ctx.storage.readAttributes(checkPrincipal(principal));
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
    const { storage, limits } = this.#ctx;
    const json = encodeValue(name, value, limits.maxValueBytes);
    const now = this.#ctx.now();
    const attribute = { name, value: json, updatedAt: now };
    await storage.putAttribute({ owner: checkPrincipal(principal), attribute, limits, now });
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
  setGuestAttribute(
    guestToken: string,
    name: string,
    value: unknown,
  ): Promise<{ guest: api.Guest; fresh: boolean }> {
    return guests.setGuestAttribute(this.#ctx, guestToken, name, value);
  }

  /** Deletes one attribute; `false` when it did not exist. */
  async deleteAttribute(principal: Principal, name: string): Promise<boolean> {
    assertAttributeName(name);
    return this.#ctx.storage.deleteAttribute(checkPrincipal(principal), name, this.#ctx.now());
  }

  /** True when the engine was given `accessTokens`, so {@link verifyAccessToken} can be used. */
  get verifiesAccessTokens(): boolean {
    return this.#ctx.verifier !== undefined;
  }

  /**
   * Checks that the database answers (one primary-key lookup), for health checks.
   * @throws GuestmodeError `storage_unavailable`
   */
  ping(): Promise<void> {
    return ping(this.#ctx);
  }

  /**
   * Verifies a provider access token; the user id is its `sub`.
   * @throws GuestmodeError `invalid_access_token`, or `provider_unavailable` (503)
   */
  async verifyAccessToken(token: string): Promise<VerifiedAccessToken> {
    const verifier = this.#ctx.verifier;
    if (!verifier) throw new TypeError('verifyAccessToken needs options.accessTokens');
    return verifier.verify(token);
  }

  /**
   * Merges the guest whose credential is presented into the user, exactly once: in one
   * transaction the guest is locked and checked, each attribute is merged by its rule, the
   * user's profile is written, and the guest is marked merged (its credential stops working).
   * A retry for the same user returns the first result (`replayed: true`); a merge into another
   * user fails with `guest_already_merged`. Other guests of the same person (other tabs or
   * devices) are untouched and can be merged later with their own credentials.
   */
  async merge(options: api.MergeOptions): Promise<api.MergeResponse> {
    const { metrics } = this.#ctx;
    const started = performance.now();
    try {
      const response = await merging.merge(this.#ctx, options);
      if (!response.replayed) metrics.observeMerge((performance.now() - started) / 1000);
      return response;
    } catch (error) {
      throw metrics.refused(error);
    }
  }

  /** What {@link merge} would do, computed in a transaction that is rolled back. */
  previewMerge(options: api.MergeOptions): Promise<MergePreview> {
    return merging.previewMerge(this.#ctx, options);
  }

  /**
   * Deletes the guest whose credential is presented, with its attributes: for a visitor who
   * discards their guest data (or declines to merge a guest they do not recognise). A merged
   * guest is not deleted (its record answers merge retries). `false` when nothing was deleted;
   * a credential that does not verify deletes nothing and answers `false` too.
   */
  deleteGuest(guestToken: string): Promise<boolean> {
    return guests.deleteGuest(this.#ctx, guestToken);
  }

  /**
   * Everything stored about a user, for a data export: their profile and the guests merged into
   * them (when, and what each merge did).
   */
  exportUser(userId: string): Promise<rights.UserExport> {
    return rights.exportUser(this.#ctx, userId);
  }

  /**
   * Erases a user: their profile and the records of the guests merged into them, in one
   * transaction (counted in `guestmode_users_deleted_total`). A merge retried afterwards with a
   * deleted guest's credential is refused like an unknown credential.
   */
  deleteUser(userId: string): Promise<rights.UserDeletion> {
    return rights.deleteUser(this.#ctx, userId);
  }

  /** Guests by id, a page at a time, for operators (`guestmode guests list`); no secrets. */
  listGuests(options: { after?: string; limit?: number } = {}): Promise<rights.GuestRecord[]> {
    return rights.listGuests(this.#ctx, options);
  }

  /** One guest and its attributes by id, for operators; `null` when there is none. */
  inspectGuest(
    guestId: string,
  ): Promise<(rights.GuestRecord & { attributes: Record<string, unknown> }) | null> {
    return rights.inspectGuest(this.#ctx, guestId);
  }

  /**
   * Deletes an active guest by id, with its attributes, for operators (a visitor uses
   * {@link deleteGuest} with the credential). A merged guest is the user's: {@link deleteUser}.
   */
  deleteGuestById(guestId: string): Promise<boolean> {
    return guests.deleteGuestById(this.#ctx, guestId, 'operator');
  }

  /**
   * Deletes expired guests in batches, one short transaction each, yielding to other work
   * between batches so that requests are never blocked for long. The defaults come from the
   * store (`storage.purgePolicy`): a store that deletes on the event loop takes small batches and
   * rests between them.
   */
  purgeExpired(options: PurgeOptions = {}): Promise<{ deleted: number }> {
    return purgeExpired(this.#ctx, options);
  }

  /**
   * One round of the scheduled purge, now: every expired guest, unless another process on the
   * same database is purging (`skipped`). Finished rate-limit windows are swept with it.
   */
  purgeRound(): Promise<PurgeRound> {
    return purgeRound(this.#ctx);
  }

  /**
   * Counts one guest creation by the client `key` (`rateLimitKey(address)`) against
   * `options.guestCreationLimit`; past it throws `rate_limited` (429, with `Retry-After` and
   * `RateLimit-*` headers). The web adapters and the service call it before creating a guest for
   * a request; a no-op when the limit is off.
   */
  async limitGuestCreation(key: string): Promise<void> {
    try {
      await this.#ctx.limiter?.take(key);
    } catch (error) {
      throw this.#ctx.metrics.refused(error);
    }
  }

  /**
   * The engine's Prometheus metrics (`prom-client`): funnel totals from the database, merge
   * latency, purged guests and refusals of this process. Serve them with the adapters' metrics
   * handlers, or merge `metrics.registry` into the app's own.
   */
  get metrics(): GuestmodeMetrics {
    return this.#ctx.metrics;
  }

  /**
   * Events in the outbox by id, a page at a time, for operators (`guestmode events list`):
   * what each is, its delivery state, attempts and last error (never a secret).
   */
  listEvents(
    options: { state?: EventState; after?: string; limit?: number } = {},
  ): Promise<EventRecord[]> {
    return listEvents(this.#ctx, options);
  }

  /**
   * One delivery round now: every due event is attempted once (the worker does this on its
   * timer; with `events.delivery.enabled: false` the app calls this itself). Answers how many
   * events were attempted; 0 without events configured.
   */
  async deliverEvents(): Promise<number> {
    return (await this.#ctx.events?.worker.runRound()) ?? 0;
  }

  /** Delivers an event again, to every consumer, as if new; `false` when there is none. */
  resendEvent(id: string): Promise<boolean> {
    return resendEvent(this.#ctx, id);
  }

  stats(): Promise<GuestStats> {
    return this.#ctx.storage.stats(this.#ctx.now());
  }

  async close(): Promise<void> {
    await this.#purge.stop();
    await this.#ctx.events?.worker.stop();
    return this.#ctx.storage.close();
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
