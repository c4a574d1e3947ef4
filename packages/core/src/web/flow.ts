/**
 * The whole browser sign-in flow, once for every adapter: start, callback, the confirm page and
 * its decision, and sign-out. An adapter implements {@link SignInPort} for one request (cookies,
 * where it keeps its records, the Logto SDK calls, the response) and maps its paths to
 * {@link SignInFlow.handle}; everything that decides something happens here.
 */
import type { Guestmode } from '../engine.js';
import { GuestmodeError } from '../errors.js';
import type { MergePreview, MergeResult } from '../merge/plan.js';
import { createMergeWait, type MergeWait, type MergeWaitOptions } from './merge-wait.js';
import { renderConfirmPage, renderSignOutPage } from './pages.js';
import { createMergeRecovery, isTemporaryFailure, type RecoveryRecord } from './recovery.js';
import {
  applyMergeDecision,
  type ConfirmPolicy,
  checkCsrf,
  checkMergeDecision,
  completeSignIn,
  notifyMerge,
  type PendingMergeReason,
  type PendingMergeRecord,
  previewPendingMerge,
  type SignInOutcome,
  type SignInStart,
  signInGuestId,
} from './sign-in.js';
import { type RequestFacts, requestSite } from './site.js';

/** A merge waiting for the user, as a confirm page shows it (JSON-serialisable). */
export interface PendingMerge {
  readonly reason: PendingMergeReason;
  /** What the merge would do (before/after of each of the guest's attributes, conflicts). */
  readonly preview: MergePreview;
  /** Where the confirm form posts (`application/x-www-form-urlencoded`). */
  readonly action: string;
  /** The hidden `csrf` field to post with `decision` (`merge` or `discard`). */
  readonly csrfToken: string;
}

/** A merge the flow performed, for the app's `onMerge`. */
export interface MergeNotice {
  readonly result: MergeResult;
  /** `true` when the guest had already been merged into this user (a retry). */
  readonly replayed: boolean;
  /**
   * `callback` for the automatic merge, `confirm` after the user accepted, `retry` for a merge
   * that failed at the callback for a temporary reason and succeeded on a later request.
   */
  readonly via: 'callback' | 'confirm' | 'retry';
}

/**
 * What an adapter provides for one request. Records are the adapter's to keep (a server-side
 * session, signed cookies); the flow only reads and writes them through here.
 */
export interface SignInPort extends RequestFacts {
  /** The guest credential the request carries, if any. */
  guestToken(): string | undefined;
  /** Deletes the guest cookie, in the browser and for the rest of this request. */
  clearGuestCookie(): void;
  loadStart(): SignInStart | undefined;
  saveStart(record: SignInStart): void;
  clearStart(): void;
  loadPending(): PendingMergeRecord | undefined;
  savePending(record: PendingMergeRecord): void;
  clearPending(): void;
  /** The merge to retry after a temporary failure at the callback (see `recovery.ts`). */
  loadRecovery(): RecoveryRecord | undefined;
  saveRecovery(record: RecoveryRecord): void;
  clearRecovery(): void;
  /** This browser's sign-out CSRF token; with `create`, one is made and kept when absent. */
  csrfToken(create: boolean): string | undefined;
  readForm(): Promise<Record<string, string>>;
  /** The signed-in user's id (`sub` of the ID token), or `undefined`. */
  userId(): Promise<string | undefined>;
  /** Redirects to the provider (its sign-up screen with `signUp`). */
  handleSignIn(signUp: boolean): Promise<void>;
  /** Completes the provider's callback for this request's URL; throws when it is refused. */
  handleSignInCallback(): Promise<void>;
  getAccessToken(resource: string): Promise<string>;
  getIdTokenClaims(): Promise<{ readonly sub?: unknown }>;
  /** Ends the provider's session and the app's own, and answers (a redirect). */
  signOut(): Promise<void>;
  /** Called once the callback verified the user, before anything is recorded for them. */
  renewSession?(): Promise<void>;
  /** Answers a redirect. */
  redirect(location: string, status: number): void;
  /** Answers an HTML page. */
  html(status: number, body: string): void;
}

/** The routes of the flow; adapters map their own paths to these. */
export type SignInRoute = 'sign-in' | 'sign-up' | 'callback' | 'sign-out' | 'confirm' | 'merge';

/** Settings checked by {@link checkSignInOptions}, plus the adapter's paths. */
export interface SignInFlowConfig<P extends SignInPort> {
  readonly engine: Guestmode | Promise<Guestmode>;
  readonly appOrigin: string;
  readonly resource: string;
  readonly confirm: ConfirmPolicy;
  readonly redirectTo: string;
  readonly confirmPath: string;
  /**
   * Where the flow's `confirm` route is served when `confirmPath` is the app's own page: it
   * stores a retried merge's decision that a page could not (a Server Component writes no
   * cookies) and forwards to `confirmPath`. Users waiting to be asked are sent through it.
   */
  readonly confirmRoute?: string | undefined;
  readonly mergePath: string;
  readonly signOutPath: string;
  /** Called after each merge; errors it throws are ignored. */
  readonly onMerge?: ((port: P, merge: MergeNotice) => void | Promise<void>) | undefined;
}

/** The flow made by {@link createSignInFlow}. */
export interface SignInFlow<P extends SignInPort> {
  /** Answers one route for the request behind `port`. Refusals are thrown `GuestmodeError`s. */
  handle(port: P, route: SignInRoute): Promise<void>;
  /** The merge waiting for this browser's decision, for an app's own confirm page. */
  pendingMerge(port: P): Promise<PendingMerge | undefined>;
  /**
   * Whether this signed-in session's guest still waits to be merged: a merge that failed at the
   * callback for a temporary reason (`retrying`), or a decision the user is to make
   * (`confirmUrl`). With `retry` (a request that may write cookies) a waiting merge is first
   * retried, at most once every few seconds per guest; a retry that succeeds clears the guest
   * cookie and calls `onMerge` (`via: 'retry'`) as the callback would have, and one that must
   * ask sets `redirect` for the first page navigation, as the callback would have redirected.
   */
  mergePending(port: P, options: MergeWaitOptions): Promise<MergeWait>;
}

function allow(port: RequestFacts, methods: readonly string[]): void {
  if (methods.includes(port.method) || (port.method === 'HEAD' && methods.includes('GET'))) return;
  throw new GuestmodeError('method_not_allowed', `Use ${methods.join(' or ')}.`, {
    headers: { allow: methods.join(', ') },
  });
}

/**
 * The sign-in flow over a {@link SignInPort}:
 *
 * - `sign-in`/`sign-up` (any method, a navigation): records the browser's guest and whether the
 *   start came from the app's own pages, then redirects to the provider;
 * - `callback` (GET): verifies the user (access token for `resource`, same `sub` as the ID
 *   token), then merges the guest (started same-origin, same guest as at the start) or sends the
 *   user to the confirm page;
 * - `confirm` (GET): the built-in confirm page; `merge` (same-origin POST with the CSRF token):
 *   the user's decision;
 * - `sign-out`: GET answers a page with a button and changes nothing; a same-origin POST with the
 *   CSRF token signs out, deleting the guest cookie only when a user was signed in.
 */
export function createSignInFlow<P extends SignInPort>(config: SignInFlowConfig<P>): SignInFlow<P> {
  const sameOrigin = (port: P) => requestSite(port, config.appOrigin) === 'same-origin';
  const refuseCrossSite = (port: P) => {
    if (!sameOrigin(port)) {
      throw new GuestmodeError('cross_site_request', 'Requests from other sites are refused.');
    }
  };
  const notify = (port: P, merge: MergeNotice) =>
    notifyMerge(config.onMerge && ((m: MergeNotice) => config.onMerge!(port, m)), merge);

  const start = async (port: P, signUp: boolean) => {
    port.clearPending();
    port.saveStart({ guestId: signInGuestId(port.guestToken()), sameOrigin: sameOrigin(port) });
    await port.handleSignIn(signUp);
  };

  const verifiedUser = async (port: P, engine: Guestmode): Promise<string> => {
    try {
      await port.handleSignInCallback();
    } catch (cause) {
      throw new GuestmodeError(
        'sign_in_failed',
        'The sign-in could not be completed; please sign in again.',
        { cause },
      );
    }
    const { userId } = await engine.verifyAccessToken(await port.getAccessToken(config.resource));
    if ((await port.getIdTokenClaims()).sub !== userId) {
      throw new GuestmodeError(
        'user_mismatch',
        'The access token and the ID token name different users.',
      );
    }
    return userId;
  };

  const recovery = createMergeRecovery(config);

  const apply = async (port: P, outcome: SignInOutcome, via: MergeNotice['via']) => {
    if (outcome.action === 'merged') {
      await notify(port, { result: outcome.result, replayed: outcome.replayed, via });
    }
    if (outcome.clearCookie) port.clearGuestCookie();
    // A retry runs on any request: the next page navigation asks (`ask`).
    if (outcome.action === 'confirm') {
      port.savePending(via === 'retry' ? { ...outcome.pending, ask: true } : outcome.pending);
    }
  };

  const waits = createMergeWait<P>(config, recovery, (port, outcome) =>
    apply(port, outcome, 'retry'),
  );

  const callback = async (port: P) => {
    allow(port, ['GET']);
    const engine = await config.engine;
    let userId: string;
    let outage = false;
    try {
      userId = await verifiedUser(port, engine);
    } catch (error) {
      // The provider's keys are unreachable but the SDK has signed the user in (it checked the
      // ID token): the merge waits for the keys, and the retry verifies the access token.
      if (!isTemporaryFailure(error)) throw error;
      const sub = (await port.getIdTokenClaims()).sub;
      if (typeof sub !== 'string' || sub.length === 0) throw error;
      userId = sub;
      outage = true;
    }
    const started = port.loadStart();
    port.clearStart();
    port.clearPending();
    port.clearRecovery();
    // A session that existed before sign-in may have been planted (session fixation).
    await port.renewSession?.();
    let outcome: SignInOutcome | undefined;
    if (!outage) {
      try {
        outcome = await completeSignIn({
          engine,
          guestToken: port.guestToken(),
          userId,
          started,
          confirm: config.confirm,
        });
      } catch (error) {
        if (!isTemporaryFailure(error)) throw error;
      }
    }
    if (!outcome) {
      recovery.defer(port, userId, started);
      return port.redirect(config.redirectTo, 302);
    }
    await apply(port, outcome, 'callback');
    port.redirect(outcome.action === 'confirm' ? config.confirmPath : config.redirectTo, 302);
  };

  const pendingMerge = async (port: P): Promise<PendingMerge | undefined> => {
    waits.shown(port);
    const pending = port.loadPending();
    if (!pending || pending.expiresAt <= Date.now()) return undefined;
    if ((await port.userId()) !== pending.userId) return undefined;
    const engine = await config.engine;
    const preview = await previewPendingMerge({ engine, pending, guestToken: port.guestToken() });
    if (!preview) return undefined;
    // A JSON copy: page props (Next's getServerSideProps) must not contain `undefined`.
    return JSON.parse(
      JSON.stringify({
        reason: pending.reason,
        preview,
        action: config.mergePath,
        csrfToken: pending.csrf,
      }),
    ) as PendingMerge;
  };

  const confirmPage = async (port: P) => {
    allow(port, ['GET']);
    // A retry whose decision a page could not store (a Server Component) is stored here.
    await waits.retry(port, true);
    if (config.confirmRoute !== undefined) {
      waits.shown(port);
      return port.redirect(config.confirmPath, 303);
    }
    const pending = await pendingMerge(port);
    if (!pending) return port.redirect(config.redirectTo, 302);
    port.html(200, renderConfirmPage(pending));
  };

  const decide = async (port: P) => {
    allow(port, ['POST']);
    refuseCrossSite(port);
    const form = await port.readForm();
    const pending = port.loadPending();
    if (!pending || pending.expiresAt <= Date.now()) {
      port.clearPending();
      return port.redirect(config.redirectTo, 303);
    }
    const decision = checkMergeDecision(pending, form);
    // The merge goes to whoever is signed in now, and only if that is still the user the
    // callback verified.
    const userId = await port.userId();
    if (userId === undefined) {
      throw new GuestmodeError('not_signed_in', 'Sign in to merge your guest data.');
    }
    if (userId !== pending.userId) {
      throw new GuestmodeError('user_mismatch', 'You are signed in as someone else.');
    }
    port.clearPending();
    const engine = await config.engine;
    const outcome = await applyMergeDecision({
      engine,
      pending,
      guestToken: port.guestToken(),
      decision,
    });
    if (outcome.action === 'merged') {
      await notify(port, { result: outcome.result, replayed: outcome.replayed, via: 'confirm' });
    }
    if (outcome.clearCookie) port.clearGuestCookie();
    port.redirect(config.redirectTo, 303);
  };

  const signOut = async (port: P) => {
    allow(port, ['GET', 'POST']);
    if (port.method !== 'POST') {
      const csrfToken = port.csrfToken(true)!;
      return port.html(200, renderSignOutPage({ action: config.signOutPath, csrfToken }));
    }
    refuseCrossSite(port);
    checkCsrf(port.csrfToken(false), (await port.readForm()).csrf);
    if ((await port.userId()) === undefined) return port.redirect(config.redirectTo, 303);
    // A merge still waiting to be retried keeps its guest: a later sign-in merges it.
    if (!port.loadRecovery()) port.clearGuestCookie();
    port.clearRecovery();
    port.clearStart();
    port.clearPending();
    await port.signOut();
  };

  const routes: Record<SignInRoute, (port: P) => Promise<void>> = {
    'sign-in': (port) => start(port, false),
    'sign-up': (port) => start(port, true),
    callback,
    'sign-out': signOut,
    confirm: confirmPage,
    merge: decide,
  };
  return {
    handle: (port, route) => routes[route](port),
    pendingMerge,
    mergePending: waits.wait,
  };
}

export {
  checkBaseUrl,
  checkEngine,
  checkEngineOption,
  checkSignInOptions,
  pathOption,
  type SignInOptions,
  type SignInOptionsInput,
  type SignInSettings,
} from './sign-in-options.js';
