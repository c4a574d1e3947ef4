import type { UserExport } from '../engine/data-rights.js';
import type { Guestmode } from '../engine.js';
import { GuestmodeError } from '../errors.js';
import type { Principal } from '../storage/types.js';
import type { MergeWait } from './merge-wait.js';

/**
 * The profile of whoever is browsing. For a visitor it is their guest (created on the first
 * write); once they are signed in it is their user profile, so handlers read and write `cart`
 * or `theme` the same way before and after sign-in.
 */
export interface GuestAccessor {
  /** `user` when signed in, `guest` when a guest cookie is valid, `none` before the first write. */
  readonly kind: 'user' | 'guest' | 'none';
  /** The guest's id; `undefined` until the guest exists (and while a user is signed in). */
  readonly id: string | undefined;
  /** The signed-in user's id (the provider's `sub`), or `undefined`. */
  readonly userId: string | undefined;
  /** The guest or user whose attributes are read and written; `undefined` before the first write. */
  readonly principal: Principal | undefined;
  /**
   * `true` while the guest of this signed-in browser is still being moved into the account: its
   * merge failed at sign-in for a temporary reason (database or provider unreachable) and is
   * retried on the next requests. Apps show a short notice ("your cart is being moved").
   */
  readonly mergePending: boolean;
  /**
   * Where the signed-in user decides on a merge of their guest that waits for them (the confirm
   * page), or `undefined`. Set, for instance, when a merge retried after a temporary failure at
   * sign-in finds conflicts under `confirm: 'on-conflict'`: page navigations are sent there once
   * by the adapter, while API answers carry it for the app to link to.
   */
  readonly confirmUrl: string | undefined;
  /** One attribute, parsed; `undefined` when absent. */
  get<T = unknown>(name: string): Promise<T | undefined>;
  /** Every attribute, parsed. */
  all(): Promise<Record<string, unknown>>;
  /** Writes one attribute. The first write of a visitor creates the guest and sets its cookie. */
  set(name: string, value: unknown): Promise<void>;
  /** Deletes one attribute; `false` when it did not exist (or there is no guest yet). */
  delete(name: string): Promise<boolean>;
  /**
   * Everything held about whoever is browsing: the profile and, for a user, the guests merged
   * into them (a data export).
   */
  exportData(): Promise<GuestDataExport>;
  /**
   * Deletes whoever is browsing: a guest deletes itself (its cookie is cleared), a user's
   * profile and merge records are erased. `false` when there was nothing to delete.
   */
  erase(): Promise<boolean>;
}

/** What {@link GuestAccessor.exportData} answers (JSON-serialisable). */
export interface GuestDataExport {
  readonly kind: GuestKind;
  readonly id: string | null;
  readonly userId: string | null;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly merges: UserExport['merges'];
}

/** Who is browsing: a signed-in user, a guest with a valid cookie, or nobody yet. */
export type GuestKind = 'user' | 'guest' | 'none';

/** The JSON-serialisable view of a {@link GuestAccessor} (what a guest API answers). */
export interface GuestProfileView {
  readonly kind: GuestKind;
  readonly id: string | null;
  readonly userId: string | null;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Present (`true`) only while {@link GuestAccessor.mergePending}. */
  readonly mergePending?: true;
  /** Present only while a merge waits for the user's decision: {@link GuestAccessor.confirmUrl}. */
  readonly confirmUrl?: string;
}

/** What the adapter must do with the guest cookie after {@link openGuest}. */
export type GuestCookieChange =
  /** Re-send the cookie: the guest's expiry slid forward. */
  | { readonly action: 'set'; readonly token: string; readonly expires: Date }
  /** Delete it: invalid, forged, expired or already merged. */
  | { readonly action: 'clear' };

/** A request's guest as {@link openGuest} found it. */
export interface OpenedGuest {
  /** The valid guest's id, or `undefined` (no cookie, a bad one, or a signed-in user). */
  readonly guestId: string | undefined;
  /** The valid guest's attributes, parsed; `undefined` when there is no valid guest. */
  readonly attributes: Record<string, unknown> | undefined;
  /** The cookie to write, if any. */
  readonly cookie: GuestCookieChange | undefined;
}

/**
 * Checks the guest credential a request presented. A visitor's bad credential is not an error:
 * the answer says to delete the cookie and the request continues as a new visitor. A signed-in
 * user's guest cookie (a merge waiting for confirmation) is left alone for the merge routes.
 *
 * @example
 * ```ts
 * const opened = await openGuest(engine, { guestToken: cookies.guestmode, userId: undefined });
 * if (opened.cookie?.action === 'clear') setCookie(serializeCookie(clearedGuestCookie(...)));
 * ```
 */
export async function openGuest(
  engine: Guestmode,
  input: { readonly guestToken: string | undefined; readonly userId: string | undefined },
): Promise<OpenedGuest> {
  if (input.userId !== undefined || input.guestToken === undefined) {
    return { guestId: undefined, attributes: undefined, cookie: undefined };
  }
  const session = await engine.validateGuest(input.guestToken);
  if (session === null) {
    return { guestId: undefined, attributes: undefined, cookie: { action: 'clear' } };
  }
  const attributes: Record<string, unknown> = {};
  for (const a of session.attributes) attributes[a.name] = JSON.parse(a.value);
  return {
    guestId: session.guest.id,
    attributes,
    cookie: session.fresh
      ? { action: 'set', token: input.guestToken, expires: session.guest.expiresAt }
      : undefined,
  };
}

/** What {@link createGuestAccessor} needs: the engine, who is browsing, and a cookie writer. */
export interface GuestAccessorInit {
  readonly engine: Guestmode;
  /** The signed-in user's id, from a verified source (session, ID token), or `undefined`. */
  readonly userId: string | undefined;
  /** From {@link openGuest}. */
  readonly guestId?: string | undefined;
  /** From {@link openGuest}: the attributes read with the credential check (a cache). */
  readonly attributes?: Record<string, unknown> | undefined;
  /**
   * Where the request comes from (see `requestSite`). Only a `same-origin` request may create a
   * guest: another site must not be able to give a visitor a guest (or replace theirs).
   */
  readonly site: 'same-origin' | 'cross-site';
  /** Called when the first write creates the guest: write its cookie. */
  readonly onCreate: (token: string, expires: Date) => void;
  /** The valid guest's credential, so that {@link GuestAccessor.erase} can delete the guest. */
  readonly guestToken?: string | undefined;
  /** Called when {@link GuestAccessor.erase} deleted the guest: clear its cookie. */
  readonly onErase?: (() => void) | undefined;
  /**
   * The request's rate-limit key (`nodeClientKeyReader`): creating the guest first counts against
   * the engine's guest-creation limit (`rate_limited`, 429, past it). Without it the limit is
   * not applied, so every adapter passes it.
   */
  readonly clientKey?: string | undefined;
  /** From the sign-in flow's `mergePending`: whether (`retrying`) and where the merge waits. */
  readonly mergePending?: boolean | MergeWait | undefined;
  /**
   * Runs before every write (`set`, `delete`, `erase`) and throws to refuse it, for adapters
   * with requests that must not write at all (a Server Component cannot set the cookie).
   */
  readonly checkWrite?: (() => void) | undefined;
}

class PrincipalGuest implements GuestAccessor {
  readonly #engine: Guestmode;
  readonly #userId: string | undefined;
  readonly #onCreate: (token: string, expires: Date) => void;
  readonly #sameOrigin: boolean;
  readonly #clientKey: string | undefined;
  readonly #onErase: (() => void) | undefined;
  readonly #checkWrite: () => void;
  readonly #mergePending: boolean;
  readonly #confirmUrl: string | undefined;
  #guestToken: string | undefined;
  #guestId: string | undefined;
  #cache: Record<string, unknown> | undefined;
  #creating: Promise<void> | undefined;

  constructor(init: GuestAccessorInit) {
    this.#engine = init.engine;
    this.#userId = init.userId;
    this.#onCreate = init.onCreate;
    this.#sameOrigin = init.site === 'same-origin';
    this.#clientKey = init.clientKey;
    this.#onErase = init.onErase;
    this.#checkWrite = init.checkWrite ?? (() => {});
    const wait = init.userId === undefined ? undefined : init.mergePending;
    this.#mergePending = typeof wait === 'object' ? wait.retrying : wait === true;
    this.#confirmUrl = typeof wait === 'object' ? wait.confirmUrl : undefined;
    this.#guestToken = init.guestToken;
    this.#guestId = init.guestId;
    this.#cache = init.attributes;
  }

  get kind(): 'user' | 'guest' | 'none' {
    if (this.#userId !== undefined) return 'user';
    return this.#guestId === undefined ? 'none' : 'guest';
  }

  get id(): string | undefined {
    return this.#userId === undefined ? this.#guestId : undefined;
  }

  get userId(): string | undefined {
    return this.#userId;
  }

  get mergePending(): boolean {
    return this.#mergePending;
  }

  get confirmUrl(): string | undefined {
    return this.#confirmUrl;
  }

  get principal(): Principal | undefined {
    if (this.#userId !== undefined) return { kind: 'user', id: this.#userId };
    return this.#guestId === undefined ? undefined : { kind: 'guest', id: this.#guestId };
  }

  async all(): Promise<Record<string, unknown>> {
    if (this.#creating) await this.#creating;
    if (this.#cache === undefined) {
      const principal = this.principal;
      this.#cache = principal ? await this.#engine.getAttributes(principal) : {};
    }
    return structuredClone(this.#cache);
  }

  async get<T = unknown>(name: string): Promise<T | undefined> {
    return (await this.all())[name] as T | undefined;
  }

  async set(name: string, value: unknown): Promise<void> {
    this.#checkWrite();
    if (this.#creating) await this.#creating;
    const principal = this.principal;
    if (principal) {
      await this.#engine.setAttribute(principal, name, value);
      if (this.#cache !== undefined) this.#cache[name] = structuredClone(value);
      return;
    }
    if (!this.#sameOrigin) {
      throw new GuestmodeError(
        'cross_site_request',
        "A guest can only be created from this site's own pages.",
      );
    }
    // The lazy "first meaningful action": the guest and its first attribute in one write.
    const creating = this.#create(name, value);
    this.#creating = creating.catch(() => {});
    await creating;
  }

  async #create(name: string, value: unknown): Promise<void> {
    if (this.#clientKey !== undefined) await this.#engine.limitGuestCreation(this.#clientKey);
    const { guest, token } = await this.#engine.createGuest({ [name]: value });
    this.#guestId = guest.id;
    this.#guestToken = token;
    this.#cache = { [name]: structuredClone(value) };
    this.#onCreate(token, guest.expiresAt);
  }

  async delete(name: string): Promise<boolean> {
    this.#checkWrite();
    if (this.#creating) await this.#creating;
    const principal = this.principal;
    if (!principal) return false;
    const deleted = await this.#engine.deleteAttribute(principal, name);
    if (this.#cache !== undefined) delete this.#cache[name];
    return deleted;
  }

  async exportData(): Promise<GuestDataExport> {
    if (this.#creating) await this.#creating;
    const view = { kind: this.kind, id: this.id ?? null, userId: this.userId ?? null };
    if (this.#userId === undefined) return { ...view, attributes: await this.all(), merges: [] };
    const { attributes, merges } = await this.#engine.exportUser(this.#userId);
    return { ...view, attributes, merges };
  }

  async erase(): Promise<boolean> {
    this.#checkWrite();
    if (this.#creating) await this.#creating;
    this.#cache = undefined;
    if (this.#userId !== undefined) return (await this.#engine.deleteUser(this.#userId)).deleted;
    if (this.#guestToken === undefined) return false;
    const deleted = await this.#engine.deleteGuest(this.#guestToken);
    this.#guestId = undefined;
    this.#guestToken = undefined;
    this.#onErase?.();
    return deleted;
  }

  async profile(): Promise<GuestProfileView> {
    const attributes = await this.all();
    const view = { kind: this.kind, id: this.id ?? null, userId: this.userId ?? null, attributes };
    return {
      ...view,
      ...(this.#mergePending ? { mergePending: true as const } : {}),
      ...(this.#confirmUrl === undefined ? {} : { confirmUrl: this.#confirmUrl }),
    };
  }
}

/**
 * The accessor for one request: reads and writes the signed-in user's attributes, or else the
 * visitor's guest, creating the guest on the first write (`onCreate` then writes its cookie).
 *
 * @example
 * ```ts
 * const opened = await openGuest(engine, { guestToken, userId });
 * const guest = createGuestAccessor({ engine, userId, ...opened,
 *   onCreate: (token, expires) => setCookie(guestCookie('guestmode', token, { secure, expires })) });
 * await guest.set('cart', [{ id: 'kokoro', quantity: 1 }]);
 * ```
 */
export function createGuestAccessor(
  init: GuestAccessorInit,
): GuestAccessor & { profile(): Promise<GuestProfileView> } {
  return new PrincipalGuest(init);
}

/** What {@link openGuestAccessor} needs from the adapter for one request. */
export interface GuestRequest {
  readonly engine: Guestmode;
  readonly userId: string | undefined;
  /** The guest credential the request carries (ignored while a user is signed in). */
  readonly guestToken: string | undefined;
  readonly site: 'same-origin' | 'cross-site';
  /** The request's rate-limit key, for the guest-creation limit (see {@link GuestAccessorInit}). */
  readonly clientKey?: string | undefined;
  /** Whether and where the guest's merge waits (the sign-in flow's `mergePending`). */
  readonly mergePending?: boolean | MergeWait | undefined;
  /** Refuses the request's writes by throwing (see {@link GuestAccessorInit}). */
  readonly checkWrite?: (() => void) | undefined;
  /** Writes the guest cookie (a new guest, or the same token with a later expiry). */
  setCookie(token: string, expires: Date): void;
  /** Deletes the guest cookie (invalid, expired or merged). */
  clearCookie(): void;
}

/**
 * {@link openGuest} and {@link createGuestAccessor} in one step, with the cookie changes applied
 * through the adapter's writers: what every adapter does once per request.
 */
export async function openGuestAccessor(
  request: GuestRequest,
): Promise<GuestAccessor & { profile(): Promise<GuestProfileView> }> {
  const { engine, userId } = request;
  const opened = await openGuest(engine, { guestToken: request.guestToken, userId });
  if (opened.cookie?.action === 'clear') request.clearCookie();
  if (opened.cookie?.action === 'set')
    request.setCookie(opened.cookie.token, opened.cookie.expires);
  return createGuestAccessor({
    engine,
    userId,
    guestId: opened.guestId,
    attributes: opened.attributes,
    site: request.site,
    clientKey: request.clientKey,
    mergePending: request.mergePending,
    checkWrite: request.checkWrite,
    guestToken: opened.guestId === undefined ? undefined : request.guestToken,
    onErase: () => request.clearCookie(),
    onCreate: (token, expires) => request.setCookie(token, expires),
  });
}

/**
 * The signed-in user's id from a Logto SDK context (`isAuthenticated` and the ID token's `sub`),
 * or `undefined` for a visitor.
 */
export function signedInUserId(context: unknown): string | undefined {
  const user = context as { isAuthenticated?: unknown; claims?: { sub?: unknown } } | undefined;
  const sub = user?.isAuthenticated === true ? user.claims?.sub : undefined;
  return typeof sub === 'string' && sub.length > 0 ? sub : undefined;
}
