import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Guestmode, Principal } from '@guestmode/core';
import { appendCookie, cookieName, rememberCookie, serializeCookie } from './cookies.js';
import type { GuestKind, GuestProfile } from './types.js';

/**
 * The profile of whoever is browsing. For a visitor it is their guest (created on the first
 * write); once they are signed in it is their user profile, so API routes and
 * `getServerSideProps` read and write `cart` or `theme` the same way before and after sign-in.
 */
export interface GuestAccessor {
  /** `user` when signed in, `guest` when a guest cookie is valid, `none` before the first write. */
  readonly kind: GuestKind;
  /** The guest's id; `undefined` until the guest exists (and while a user is signed in). */
  readonly id: string | undefined;
  /** The signed-in user's id (the provider's `sub`), or `undefined`. */
  readonly userId: string | undefined;
  /** The guest or user whose attributes are read and written; `undefined` before the first write. */
  readonly principal: Principal | undefined;
  /** One attribute, parsed; `undefined` when absent. */
  get<T = unknown>(name: string): Promise<T | undefined>;
  /** Every attribute, parsed. */
  all(): Promise<Record<string, unknown>>;
  /** Writes one attribute. The first write of a visitor creates the guest and sets its cookie. */
  set(name: string, value: unknown): Promise<void>;
  /** Deletes one attribute; `false` when it did not exist (or there is no guest yet). */
  delete(name: string): Promise<boolean>;
  /** The JSON-serialisable view `useGuest()` reads (`GET <apiPath>/profile`). */
  profile(): Promise<GuestProfile>;
}

export interface GuestInit {
  readonly engine: Guestmode;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly cookieBase: string;
  readonly secure: boolean;
  readonly userId: string | undefined;
}

/** Writes the guest cookie carrying `token` (HttpOnly, SameSite=Lax, expiring with the guest). */
export function setGuestCookie(init: GuestInit, token: string, expires: Date): void {
  const name = cookieName(init.cookieBase, init.secure);
  appendCookie(init.res, serializeCookie(name, token, { secure: init.secure, expires }));
  rememberCookie(init.req, name, token);
}

/** Deletes the guest cookie in the browser and for the rest of this request. */
export function clearGuestCookie(
  req: IncomingMessage,
  res: ServerResponse,
  cookieBase: string,
  secure: boolean,
): void {
  const name = cookieName(cookieBase, secure);
  appendCookie(res, serializeCookie(name, '', { secure, expires: new Date(0) }));
  rememberCookie(req, name, undefined);
}

class RequestGuest implements GuestAccessor {
  readonly #init: GuestInit;
  #guestId: string | undefined;
  #cache: Record<string, unknown> | undefined;
  #creating: Promise<void> | undefined;

  constructor(
    init: GuestInit,
    guestId: string | undefined,
    attributes: Record<string, unknown> | undefined,
  ) {
    this.#init = init;
    this.#guestId = guestId;
    this.#cache = attributes;
  }

  get kind(): GuestKind {
    if (this.#init.userId !== undefined) return 'user';
    return this.#guestId === undefined ? 'none' : 'guest';
  }

  get id(): string | undefined {
    return this.#init.userId === undefined ? this.#guestId : undefined;
  }

  get userId(): string | undefined {
    return this.#init.userId;
  }

  get principal(): Principal | undefined {
    if (this.#init.userId !== undefined) return { kind: 'user', id: this.#init.userId };
    return this.#guestId === undefined ? undefined : { kind: 'guest', id: this.#guestId };
  }

  async all(): Promise<Record<string, unknown>> {
    if (this.#creating) await this.#creating;
    if (this.#cache === undefined) {
      const principal = this.principal;
      this.#cache = principal ? await this.#init.engine.getAttributes(principal) : {};
    }
    return structuredClone(this.#cache);
  }

  async get<T = unknown>(name: string): Promise<T | undefined> {
    return (await this.all())[name] as T | undefined;
  }

  async set(name: string, value: unknown): Promise<void> {
    if (this.#creating) await this.#creating;
    const principal = this.principal;
    if (principal) {
      await this.#init.engine.setAttribute(principal, name, value);
      if (this.#cache !== undefined) this.#cache[name] = structuredClone(value);
      return;
    }
    // The lazy "first meaningful action": the guest and its first attribute in one write.
    const creating = this.#create(name, value);
    this.#creating = creating.catch(() => {});
    await creating;
  }

  async #create(name: string, value: unknown): Promise<void> {
    const { guest, token } = await this.#init.engine.createGuest({ [name]: value });
    this.#guestId = guest.id;
    this.#cache = { [name]: structuredClone(value) };
    setGuestCookie(this.#init, token, guest.expiresAt);
  }

  async delete(name: string): Promise<boolean> {
    if (this.#creating) await this.#creating;
    const principal = this.principal;
    if (!principal) return false;
    const deleted = await this.#init.engine.deleteAttribute(principal, name);
    if (this.#cache !== undefined) delete this.#cache[name];
    return deleted;
  }

  async profile(): Promise<GuestProfile> {
    const attributes = await this.all();
    return {
      kind: this.kind,
      id: this.id ?? null,
      userId: this.userId ?? null,
      attributes,
    };
  }
}

/**
 * The accessor for one request. A visitor's cookie is checked here (an invalid, expired or
 * merged one is deleted and the request continues as a new visitor); a signed-in user's guest
 * cookie is left alone for the merge routes.
 */
export async function createGuestAccessor(
  init: GuestInit,
  token: string | undefined,
): Promise<GuestAccessor> {
  let guestId: string | undefined;
  let attributes: Record<string, unknown> | undefined;
  if (init.userId === undefined && token !== undefined) {
    const session = await init.engine.validateGuest(token);
    if (session === null) {
      clearGuestCookie(init.req, init.res, init.cookieBase, init.secure);
    } else {
      guestId = session.guest.id;
      attributes = {};
      for (const a of session.attributes) attributes[a.name] = JSON.parse(a.value);
      if (session.fresh) setGuestCookie(init, token, session.guest.expiresAt);
    }
  }
  return new RequestGuest(init, guestId, attributes);
}
