/**
 * The options every adapter's sign-in flow takes, checked once at construction (every error a
 * `TypeError` naming the option), and the option helpers the adapters share.
 */
import type { Guestmode } from '../engine.js';
import { checkCookieName, DEFAULT_COOKIE_NAME } from './cookie.js';
import { type ConfirmPolicy, checkMergeOptions } from './sign-in.js';

/**
 * The engine option: an engine, or a promise of one (an app's route modules may load before its
 * storage is open). The promise never rejects unhandled: requests that need it fail instead.
 */
export function checkEngine(given: unknown, option: string): Promise<Guestmode> {
  const isEngine = (value: unknown): value is Guestmode =>
    typeof (value as Guestmode | null)?.merge === 'function';
  if (!isEngine(given) && typeof (given as Promise<unknown> | null)?.then !== 'function') {
    throw new TypeError(`${option} must be the engine from createGuestmode() or a promise of it`);
  }
  const ready = Promise.resolve(given).then((value) => {
    if (!isEngine(value)) {
      throw new TypeError(`${option} must resolve to the engine from createGuestmode()`);
    }
    return value;
  });
  ready.catch(() => {});
  return ready;
}

/**
 * The options object an adapter's entry point takes and its engine, `options.guestmode`, checked
 * once at construction (for adapters that need the engine itself, not a promise of it).
 */
export function checkEngineOption(options: unknown): Guestmode {
  if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
  const engine = (options as { readonly guestmode?: Guestmode | null }).guestmode;
  if (typeof engine?.merge !== 'function') {
    throw new TypeError('options.guestmode must be the engine from createGuestmode()');
  }
  return engine;
}

/** A configured path: must start with a single `/`; trailing slashes are dropped. */
export function pathOption(value: unknown, option: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) {
    throw new TypeError(`${option} must be a path starting with a single "/"`);
  }
  return value.replace(/\/+$/, '') || '/';
}

/** The sign-in options every adapter takes (beside its own); `E` is its `onMerge` event. */
export interface SignInOptions<E> {
  /**
   * The API resource whose access token proves the user at merge time (its `sub` is the user
   * id). Must be listed in `logto.resources`. Default: the first of `logto.resources`.
   */
  readonly resource?: string;
  /**
   * `never` (default): the browser's own guest is merged in the callback when the sign-in was
   * started from the app's own pages. `on-conflict`: conflicts also go to the confirm page. A
   * guest the browser did not have at the start, or a sign-in started from another site, is
   * never merged without asking.
   */
  readonly confirm?: 'never' | 'on-conflict';
  /** The app's own confirm page (using `getPendingMerge`). Default: a minimal built-in page. */
  readonly confirmPath?: string;
  /** Where users land after sign-in or a merge decision. Default `logto.baseUrl`. */
  readonly redirectTo?: string;
  /** Base name of the guest cookie (default `guestmode`; `__Host-guestmode` over HTTPS). */
  readonly cookieName?: string;
  /** Called after each merge (metrics, audit log). Errors it throws are ignored. */
  readonly onMerge?: (event: E) => void | Promise<void>;
}

/** The options every adapter's sign-in flow takes, as the app gives them. */
export interface SignInOptionsInput {
  readonly logto?: unknown;
  readonly resource?: unknown;
  readonly confirm?: unknown;
  readonly confirmPath?: unknown;
  readonly redirectTo?: unknown;
  readonly cookieName?: unknown;
  readonly onMerge?: unknown;
}

/** {@link SignInOptionsInput} checked, with defaults applied. */
export interface SignInSettings {
  /** `logto.baseUrl` without trailing slashes. */
  readonly baseUrl: string;
  readonly appOrigin: string;
  /** The app is served over HTTPS (decided from the base URL, never from the request). */
  readonly secure: boolean;
  readonly resource: string;
  readonly confirm: ConfirmPolicy;
  readonly redirectTo: string;
  readonly cookieName: string;
  /** `undefined` when the built-in confirm page is used. */
  readonly confirmPath: string | undefined;
}

/** Checks an absolute `http:`/`https:` URL option; throws a `TypeError` naming `option`. */
export function checkBaseUrl(value: unknown, option: string): URL {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError(`${option} must be an absolute http: or https: URL`);
  }
  return url;
}

/**
 * Checks the options the adapters share, once at construction; every error is a `TypeError`
 * naming the option.
 */
export function checkSignInOptions(options: SignInOptionsInput): SignInSettings {
  const logto = options.logto as { baseUrl?: unknown; resources?: readonly string[] } | undefined;
  if (!logto || typeof logto !== 'object') {
    throw new TypeError('options.logto must be the configuration given to the Logto SDK');
  }
  const base = checkBaseUrl(logto.baseUrl, 'options.logto.baseUrl');
  const baseUrl = String(logto.baseUrl).replace(/\/+$/, '');
  const { resource, confirm } = checkMergeOptions({
    resource: options.resource,
    resources: logto.resources,
    confirm: options.confirm,
  });
  const redirectTo = options.redirectTo ?? baseUrl;
  if (typeof redirectTo !== 'string' || redirectTo.length === 0) {
    throw new TypeError('options.redirectTo must be a URL or path');
  }
  if (options.onMerge !== undefined && typeof options.onMerge !== 'function') {
    throw new TypeError('options.onMerge must be a function');
  }
  return {
    baseUrl,
    appOrigin: base.origin,
    secure: base.protocol === 'https:',
    resource,
    confirm,
    redirectTo,
    cookieName:
      options.cookieName === undefined
        ? DEFAULT_COOKIE_NAME
        : checkCookieName(options.cookieName, 'options.cookieName'),
    confirmPath:
      options.confirmPath === undefined
        ? undefined
        : pathOption(options.confirmPath, 'options.confirmPath', '/'),
  };
}
