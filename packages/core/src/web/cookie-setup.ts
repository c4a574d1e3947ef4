/**
 * What an adapter without a server-side session sets up from its options (both Next routers
 * do): the engine, the sign-in settings, the guest API path and the sealer of the record
 * cookies, and the sign-in flow whose confirm and merge routes live under the guest API.
 */
import type { Guestmode } from '../engine.js';
import { createSignInFlow, type MergeNotice, type SignInFlow, type SignInPort } from './flow.js';
import { createSealer, type Sealer } from './seal.js';
import {
  checkEngine,
  checkSignInOptions,
  pathOption,
  type SignInOptionsInput,
  type SignInSettings,
} from './sign-in-options.js';

/** The options such an adapter takes (its own types document them). */
export type CookieAdapterOptions = SignInOptionsInput & {
  readonly guestmode: Guestmode | Promise<Guestmode>;
  readonly logto: { readonly cookieSecret?: string };
  readonly apiPath?: string;
  readonly secret?: string;
};

/** {@link CookieAdapterOptions} checked. */
export interface CookieAdapterSetup {
  readonly engine: Promise<Guestmode>;
  readonly settings: SignInSettings;
  readonly apiPath: string;
  readonly sealer: Sealer;
}

/** Checks the options, once; errors are `TypeError`s naming the option. */
export function checkCookieAdapterOptions(options: CookieAdapterOptions): CookieAdapterSetup {
  const engine = checkEngine(options.guestmode, 'options.guestmode');
  const settings = checkSignInOptions(options);
  const apiPath = pathOption(options.apiPath, 'options.apiPath', '/api/guestmode');
  const secret = options.secret ?? options.logto.cookieSecret;
  if (typeof secret !== 'string' || secret.length < 32) {
    throw new TypeError(
      'options.secret (default: options.logto.cookieSecret) must be at least 32 characters',
    );
  }
  return { engine, settings, apiPath, sealer: createSealer(secret) };
}

/**
 * The sign-in flow: the confirm page (unless the app has its own) and the merge post under
 * `apiPath`.
 */
export function createGuestApiFlow<P extends SignInPort>(
  { engine, settings, apiPath }: CookieAdapterSetup,
  signOutPath: string,
  onMerge: ((port: P, merge: MergeNotice) => void | Promise<void>) | undefined,
): SignInFlow<P> {
  return createSignInFlow<P>({
    ...settings,
    engine,
    confirmPath: settings.confirmPath ?? `${apiPath}/confirm`,
    confirmRoute: settings.confirmPath && `${apiPath}/confirm`,
    mergePath: `${apiPath}/merge`,
    signOutPath,
    onMerge,
  });
}
