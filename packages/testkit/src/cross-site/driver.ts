// The cross-site suite's driver (what each Bookstore's test file says about its app) and the
// attack context its tests share: the running Bookstore, the two attacker sites, and the
// visitor's moves on the Bookstore.
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type AttackerSite, type SentRequest, visitAttack } from '../attacker.js';
import {
  type AccountMaker,
  type BookstoreDriver,
  guestCookie as cookieOf,
  type RunningBookstore,
  signInWithPassword,
} from '../bookstore.js';
import { randomId } from '../util.js';
import type { BookstoreRecords } from './records.js';

/** A running Bookstore, with its local provider and its stored data. */
export interface CrossSiteBookstore extends RunningBookstore {
  readonly idp: AccountMaker | undefined;
  readonly records: BookstoreRecords;
}

/** A request as the Bookstore's own page sends it (a path on the Bookstore). */
export interface AppRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A write the Bookstore takes, as an attacker forges it. */
export interface ForgedWrite {
  /** What it is, for the failure messages. */
  readonly name: string;
  /** Where the form posts (a form can only post, whatever method the app itself uses). */
  readonly path: string;
  readonly fields: Record<string, string>;
  readonly enctype?: 'application/x-www-form-urlencoded' | 'multipart/form-data' | 'text/plain';
  /** The write as the app's own page sends it, tried by a fetch from the attacker's page. */
  readonly fetch: Omit<AppRequest, 'path'>;
}

/** How the cross-site suite starts and drives one Bookstore. */
export interface CrossSiteDriver
  extends Pick<BookstoreDriver, 'startTimeoutMs' | 'stepTimeoutMs' | 'home' | 'addToCart'> {
  /** Starts the Bookstore (and its provider) with its database in `dataDir`. */
  start(dataDir: string): Promise<CrossSiteBookstore>;
  /** Where the sign-in routes are (`<authRoutes>/sign-in`, `<authRoutes>/sign-out`). */
  readonly authRoutes: string;
  /** The names of the Bookstore's own session cookies (the signed-in user). */
  readonly sessionCookie: RegExp;
  /** The Logto SDK's user route, where the Bookstore has one; else the header shows the sub. */
  readonly userRoute?: string;
  /** The pages that show the visitor's cart. */
  readonly personalPages: readonly string[];
  /**
   * How those pages keep caches from sharing them: `vary` (`Cache-Control: no-store` and
   * `Vary: Cookie`), or `private` (`Cache-Control: private, no-store`, for a framework that writes
   * the pages' `Vary` itself, as Next's App Router does).
   */
  readonly personalPagesCaching: 'vary' | 'private';
  /** The guest API's base path, where the Bookstore serves one. */
  readonly guestApi?: string;
  /**
   * Every write of the shop an attacker could forge, each adding Moby-Dick, read from the shop
   * page `page` shows (a Server Action's id is in its form).
   */
  forgedWrites(page: Page, url: string): Promise<readonly ForgedWrite[]>;
  /** A same-origin request that creates a guest; `accepted` is its status when it does. */
  readonly guestCreation: AppRequest & { readonly accepted: number };
}

/** A form field whose `name=value` in a text/plain post is a JSON cart holding Moby-Dick. */
const JSON_CART_FIELD = { '[{"id":"moby-dick","quantity":1,"x":"': '"}]' };
const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * The cart's write through Guestmode's guest API at `base` (`PUT <base>/attributes/cart` with a
 * JSON body, as `useGuest()` sends it), as an attacker forges it: a text/plain form post whose
 * body is that JSON, and the PUT itself from the attacker's page.
 */
export function guestApiCartWrite(base: string): ForgedWrite {
  return {
    name: 'the guest API',
    path: `${base}/attributes/cart`,
    fields: JSON_CART_FIELD,
    enctype: 'text/plain',
    fetch: {
      method: 'PUT',
      headers: JSON_HEADERS,
      body: JSON.stringify([{ id: 'moby-dick', quantity: 1 }]),
    },
  };
}

/** A same-origin write of a cart through the guest API at `base`, which creates a guest. */
export function guestApiCartCreation(base: string): CrossSiteDriver['guestCreation'] {
  return {
    method: 'PUT',
    path: `${base}/attributes/cart`,
    headers: JSON_HEADERS,
    body: JSON.stringify([{ id: 'rashomon', quantity: 1 }]),
    accepted: 200,
  };
}

/** The guest cookie's name over HTTP (the Bookstores run on http://127.0.0.1). */
export const GUEST_COOKIE = /^guestmode$/;

export const CAT = [{ id: 'i-am-a-cat', quantity: 1 }];

function cookieNames(header: string | undefined): string[] {
  return (header ?? '').split(';').map((part) => part.trim().split('=')[0] ?? '');
}

/** The request carried a cookie whose name `name` matches. */
export function carries(request: SentRequest, name: RegExp): boolean {
  return cookieNames(request.headers.cookie).some((n) => name.test(n));
}

export function refused(request: SentRequest, what: string): void {
  assert.ok(
    request.status !== undefined && request.status >= 400 && request.status < 500,
    `${what}: refused (got ${request.status})`,
  );
}

/** What the suite's tests work with once everything is started. */
export type Attack = ReturnType<typeof attack>;

/** The attack context over a started Bookstore, Chromium and attacker sites `a` and `b`. */
export function attack(
  driver: CrossSiteDriver,
  store: CrossSiteBookstore,
  browser: Browser,
  a: AttackerSite,
  b: AttackerSite,
) {
  const url = store.url;
  const auth = driver.authRoutes;
  return {
    url,
    browser,
    records: store.records,
    idp: store.idp,
    a,
    b,
    /** Opens a page of attacker A's and waits until its navigations come to rest. */
    visit: (page: Page, name: string, html: string) =>
      visitAttack(page, a.page(`/${name}-${randomId(4)}`, html), [a, b]),
    /** The Bookstore's guest cookie (the provider, on another port, has its own). */
    guestCookie: async (context: BrowserContext) => (await cookieOf(context, url))?.value,
    /** Same-origin "Add to cart" of the `index`th book, as the visitor clicks it. */
    shop: async (page: Page, index: number) => {
      await driver.home(page, url);
      await driver.addToCart(page, index, url);
    },
    /** Signs in from the Bookstore's own link, which also opens a provider session. */
    signIn: async (page: Page, username: string) => {
      await driver.home(page, url);
      await signInWithPassword(page, url, username);
    },
    isSignedIn: async (page: Page) => {
      await driver.home(page, url);
      if (!driver.userRoute) {
        return /sub: \w+/.test((await page.locator('header').textContent()) ?? '');
      }
      // As the Bookstore's own pages read it: a same-origin fetch.
      const user = await page.evaluate(
        async (route) => (await fetch(route)).json(),
        driver.userRoute,
      );
      return (user as { isAuthenticated?: unknown }).isAuthenticated === true;
    },
    /** Waits for a round trip through the provider to end back on the Bookstore. */
    backOnApp: (page: Page) =>
      page.waitForURL((u) => u.origin === url && !u.pathname.startsWith(`${auth}/`)),
  };
}
