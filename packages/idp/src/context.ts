import { createHmac, timingSafeEqual } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Accounts } from './accounts.js';
import type { SocialHost } from './social/index.js';
import type { Store } from './store/types.js';

/** What the route modules share once the provider is listening. */
export interface RouteContext {
  store: Store;
  accounts: Accounts;
  provider: Provider;
  /** The public origin, without trailing slash. */
  endpoint: string;
  /** Current social host; replaced when a connector is added. */
  social(): SocialHost | undefined;
  csrf: CsrfTokens;
}

/**
 * CSRF tokens bound to one interaction: an HMAC of its uid under a server key. A form from
 * another interaction, or a forged one, fails; the interaction cookie is needed as well.
 */
export class CsrfTokens {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    this.#key = key;
  }

  issue(uid: string): string {
    return createHmac('sha256', this.#key).update(`csrf:${uid}`).digest('base64url');
  }

  verify(uid: string, token: string | null | undefined): boolean {
    if (!token) return false;
    const expected = Buffer.from(this.issue(uid));
    const actual = Buffer.from(token);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}
