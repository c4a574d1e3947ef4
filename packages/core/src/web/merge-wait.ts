/**
 * A retried merge that must ask the user (see `recovery.ts`): the callback that failed for a
 * temporary reason would have sent the user to the confirm page, so the first page navigation
 * after the retry decided it is sent there instead; API requests only learn where it is.
 */
import type { SignInFlowConfig, SignInPort } from './flow.js';
import type { MergeRecovery } from './recovery.js';
import { type PendingMergeRecord, type SignInOutcome, signInGuestId } from './sign-in.js';
import { isPageNavigation } from './site.js';

/** What the sign-in flow's `mergePending` tells about this signed-in browser's guest. */
export interface MergeWait {
  /** A merge that failed at sign-in for a temporary reason waits to be retried. */
  readonly retrying: boolean;
  /** Where the user decides on a merge that waits for them, or `undefined`. */
  readonly confirmUrl: string | undefined;
  /**
   * Where to send this page navigation now (303): set while a retried merge waits for a decision
   * the user has not been asked for yet, as the callback would have sent them.
   */
  readonly redirect: string | undefined;
}

/** What the sign-in flow's `mergePending` is told about the request. */
export interface MergeWaitOptions {
  /** Retry a waiting merge first (a request that may write cookies). */
  readonly retry: boolean;
  /** The request's path: a page navigation (`isPageNavigation`) there may get `redirect`. */
  readonly path?: string | undefined;
  /** The request renders a page whatever its headers say (`getServerSideProps`, a Server Component). */
  readonly page?: boolean | undefined;
}

/** What the flow does with a waiting merge: {@link createMergeWait}. */
export interface MergeWaits<P extends SignInPort> {
  /** Everything {@link MergeWait} says about the request behind `port`. */
  wait(port: P, options: MergeWaitOptions): Promise<MergeWait>;
  /** Retries a waiting merge; `asked` when the retry decided to ask the user. */
  retry(port: P, retry: boolean): Promise<{ waiting: boolean; asked: boolean }>;
  /** The confirm page is being shown: later navigations are no longer sent to it. */
  shown(port: P): void;
}

/**
 * The flow's handling of waiting merges; `apply` stores a retry's outcome as the callback would
 * (a decision to ask is saved with `ask`).
 */
export function createMergeWait<P extends SignInPort>(
  config: Pick<SignInFlowConfig<P>, 'confirmPath' | 'confirmRoute' | 'mergePath' | 'signOutPath'>,
  recovery: MergeRecovery,
  apply: (port: P, outcome: SignInOutcome) => Promise<void>,
): MergeWaits<P> {
  const own = new Set<string | undefined>(
    [config.confirmPath, config.confirmRoute, config.mergePath, config.signOutPath].filter(
      (path) => path !== undefined,
    ),
  );
  // Users not yet asked go through the confirm route when there is one: it can store what a
  // page could not, and forwards to the app's page.
  const askAt = config.confirmRoute ?? config.confirmPath;

  const retry = async (port: P, retrying: boolean) => {
    let asked = false;
    const waiting = await recovery.resume(port, retrying, async (outcome) => {
      await apply(port, outcome);
      asked = outcome.action === 'confirm';
    });
    return { waiting, asked };
  };

  /** The pending record this browser's guest and signed-in user can still decide on. */
  const live = async (port: P): Promise<PendingMergeRecord | undefined> => {
    const pending = port.loadPending();
    if (!pending || pending.expiresAt <= Date.now()) return undefined;
    if (signInGuestId(port.guestToken()) !== pending.guestId) return undefined;
    return (await port.userId()) === pending.userId ? pending : undefined;
  };

  return {
    retry,
    async wait(port, options) {
      const { waiting, asked } = await retry(port, options.retry);
      const pending = await live(port);
      // Decided but stored nowhere (a page that writes no cookies): the route decides again.
      const unstored = asked && pending === undefined;
      const page =
        (options.page === true || (options.path !== undefined && isPageNavigation(port))) &&
        !own.has(options.path);
      return {
        retrying: waiting,
        confirmUrl: unstored ? askAt : pending && config.confirmPath,
        redirect: page && (unstored || pending?.ask === true) ? askAt : undefined,
      };
    },
    shown(port) {
      const pending = port.loadPending();
      if (!pending?.ask) return;
      const { ask: _shown, ...rest } = pending;
      port.savePending(rest);
    },
  };
}
