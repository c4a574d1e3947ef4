/**
 * What the Pages Router and the App Router integrations set up alike: the engine, the sign-in
 * settings, the guest API path and the cookie sealer from their options, and the sign-in flow
 * whose confirm and merge routes live under the guest API.
 */
import type { Guestmode } from '@guestmode/core';
import {
  checkEngine,
  checkSignInOptions,
  createSealer,
  createSignInFlow,
  type MergeNotice,
  pathOption,
  type Sealer,
  type SignInFlow,
  type SignInPort,
  type SignInSettings,
} from '@guestmode/core/web';

/** The options both routers take (their own types document them). */
type SharedOptions = Parameters<typeof checkSignInOptions>[0] & {
  readonly guestmode: Guestmode | Promise<Guestmode>;
  readonly logto: { readonly cookieSecret?: string };
  readonly apiPath?: string;
  readonly secret?: string;
};

export interface SharedSetup {
  readonly engine: Promise<Guestmode>;
  readonly settings: SignInSettings;
  readonly apiPath: string;
  readonly sealer: Sealer;
}

/** Checks the options both routers share, once; errors are `TypeError`s naming the option. */
export function checkSharedOptions(options: SharedOptions): SharedSetup {
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

/** The sign-in flow: the confirm page (unless the app has its own) and the merge post under `apiPath`. */
export function createNextFlow<P extends SignInPort>(
  { engine, settings, apiPath }: SharedSetup,
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
