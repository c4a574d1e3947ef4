import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Store } from './store/types.js';

/** Key material the provider needs; generated once and persisted so tokens survive restarts. */
export interface ProviderKeys {
  /** Private ES384 JWKs, newest first (oidc-provider signs with the first). */
  signing: JWK[];
  /** Secrets that sign oidc-provider's cookies, newest first. */
  cookie: string[];
}

/** Loads the keys from the store, generating them on first start. */
export async function loadOrCreateKeys(store: Store): Promise<ProviderKeys> {
  let signing = (await store.listKeys('signing')).map((row) => JSON.parse(row.material) as JWK);
  if (signing.length === 0) {
    // Logto signs with ES384 (P-384); the SDKs and our tests expect that algorithm.
    const { privateKey } = await generateKeyPair('ES384', { extractable: true });
    const jwk = await exportJWK(privateKey);
    jwk.kid = await calculateJwkThumbprint(jwk);
    jwk.alg = 'ES384';
    jwk.use = 'sig';
    await store.insertKey({
      kid: jwk.kid,
      kind: 'signing',
      material: JSON.stringify(jwk),
      createdAt: Date.now(),
    });
    signing = [jwk];
  }

  let cookie = (await store.listKeys('cookie')).map((row) => row.material);
  if (cookie.length === 0) {
    const secret = randomBytes(32).toString('base64url');
    await store.insertKey({
      kid: `cookie-${randomBytes(6).toString('hex')}`,
      kind: 'cookie',
      material: secret,
      createdAt: Date.now(),
    });
    cookie = [secret];
  }
  return { signing, cookie };
}
