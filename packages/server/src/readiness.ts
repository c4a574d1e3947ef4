import { GuestmodeError } from '@guestmode/core';
import type { OidcConfig } from './config.js';

/** Whether the OIDC provider can be reached: its discovery document (unless a JWKS URI is set) and its keys. */
export interface ProviderProbe {
  /** Resolves when the provider answered; throws `provider_unavailable` otherwise. */
  check(): Promise<void>;
}

export interface ProviderProbeOptions {
  /** How long an answer (good or bad) is reused, in ms, so probes cannot hammer the provider. */
  readonly cacheMs?: number;
  /** Time limit of each request, in ms. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

async function fetchJson(url: string, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: 'application/json' },
  });
  if (!response.ok) throw new Error(`answered ${response.status}`);
  return response.json();
}

/**
 * Checks the provider the way the access-token verifier reaches it: the discovery document must
 * name the configured issuer and a `jwks_uri`, and the JWKS must hold keys. One check runs at a
 * time and its outcome is reused for `cacheMs` (5 s by default), whatever the number of probes.
 */
export function createProviderProbe(
  oidc: OidcConfig,
  options: ProviderProbeOptions = {},
): ProviderProbe {
  const cacheMs = options.cacheMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 3_000;
  const now = options.now ?? Date.now;
  let last: { at: number; outcome: Promise<void> } | undefined;

  const run = async (): Promise<void> => {
    let jwksUri = oidc.jwksUri;
    try {
      if (jwksUri === undefined) {
        const discovery = (await fetchJson(
          `${oidc.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
          timeoutMs,
        )) as { issuer?: unknown; jwks_uri?: unknown };
        if (discovery.issuer !== oidc.issuer || typeof discovery.jwks_uri !== 'string') {
          throw new Error('the discovery document does not match the configured issuer');
        }
        jwksUri = discovery.jwks_uri;
      }
      const jwks = (await fetchJson(jwksUri, timeoutMs)) as { keys?: unknown };
      if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) {
        throw new Error('the JWKS holds no keys');
      }
    } catch (cause) {
      throw new GuestmodeError(
        'provider_unavailable',
        "The OIDC provider's discovery document or keys could not be fetched.",
        { cause },
      );
    }
  };

  return {
    check() {
      const at = now();
      if (last === undefined || at - last.at >= cacheMs || at < last.at) {
        const outcome = run();
        // The outcome is kept for later probes; a rejection is theirs to see, not unhandled.
        outcome.catch(() => undefined);
        last = { at, outcome };
      }
      return last.outcome;
    },
  };
}
