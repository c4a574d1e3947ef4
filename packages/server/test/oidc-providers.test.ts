// The verifier settings let the service accept access tokens from providers other than Logto.
// Tokens shaped like Keycloak's, Microsoft Entra's and Logto's, signed by local test issuers, are
// accepted with the settings that provider needs and refused with the defaults.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestIssuer, type TestIssuer } from '@guestmode/testkit';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { assert } from './harness.js';

const KEYCLOAK_USER = '5b0a7d1e-3c1f-4f8e-9d2a-6a1f0c9e4b21';
const ENTRA_APP = '6e9a2f1c-0b7d-4c35-8f41-2d7b9c0e5a13';
const ENTRA_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

/** A Keycloak access token: `typ: JWT`, `azp`, `scope`, `aud: account`, a realm issuer path. */
function keycloakToken(issuer: TestIssuer, claims: Record<string, unknown> = {}) {
  return issuer.accessToken(
    {
      sub: KEYCLOAK_USER,
      aud: 'account',
      azp: 'bookstore',
      scope: 'openid profile email',
      typ: 'Bearer',
      preferred_username: 'alice',
      client_id: undefined,
      ...claims,
    },
    { typ: 'JWT' },
  );
}

/** A Microsoft Entra v2.0 access token: `typ: JWT`, `ver: 2.0`, `aud` = the app id, `scp`. */
function entraToken(issuer: TestIssuer, claims: Record<string, unknown> = {}) {
  return issuer.accessToken(
    {
      sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
      aud: ENTRA_APP,
      azp: '0f9d2b8c-1a3e-4d5f-9b7c-8e6a4d2c1b0f',
      azpacr: '0',
      oid: '00000000-0000-0000-66f3-3332eca7ea81',
      tid: ENTRA_TENANT,
      ver: '2.0',
      scp: 'guests.readwrite profile.read',
      scope: undefined,
      client_id: undefined,
      ...claims,
    },
    { typ: 'JWT' },
  );
}

describe('verifier settings for other OIDC providers', () => {
  let dir: string;
  let keycloak: TestIssuer;
  let entra: TestIssuer;
  let logto: TestIssuer;
  const apps: FastifyInstance[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gm-oidc-'));
    keycloak = await startTestIssuer({ alg: 'RS256', path: '/realms/demo', audience: 'account' });
    entra = await startTestIssuer({ alg: 'RS256', path: `/${ENTRA_TENANT}/v2.0` });
    logto = await startTestIssuer();
  });
  after(async () => {
    for (const app of apps) await app.close();
    await Promise.all([keycloak.close(), entra.close(), logto.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A service configured by environment variables, as `guestmode serve` would be. */
  async function service(env: NodeJS.ProcessEnv) {
    const config = loadConfig({
      env: { GUESTMODE_DATABASE_URL: `sqlite:${join(dir, `${apps.length}.db`)}`, ...env },
    });
    const app = await buildServer({ config });
    apps.push(app);
    return async (token: string) => {
      const response = await app.inject({
        method: 'GET',
        url: '/v1/profile',
        headers: { authorization: `Bearer ${token}` },
      });
      const body = response.json() as { kind?: string; id?: string; error?: { code: string } };
      return { status: response.statusCode, ...body };
    };
  }

  it('accepts Keycloak tokens with typ JWT and the realm JWKS URI, refuses them by default', async () => {
    const base = { GUESTMODE_OIDC_ISSUER: keycloak.issuer, GUESTMODE_OIDC_AUDIENCE: 'account' };
    const strict = await service(base);
    const refused = await strict(await keycloakToken(keycloak));
    assert.equal(refused.status, 401);
    assert.equal(refused.error?.code, 'invalid_access_token');

    const before = keycloak.discoveryRequests;
    const configured = await service({
      ...base,
      GUESTMODE_OIDC_TOKEN_TYPE: 'JWT',
      GUESTMODE_OIDC_JWKS_URI: keycloak.jwksUri,
      GUESTMODE_OIDC_ALGORITHMS: 'RS256',
      GUESTMODE_OIDC_REQUIRED_SCOPES: 'profile',
    });
    const accepted = await configured(await keycloakToken(keycloak));
    assert.equal(accepted.status, 200, JSON.stringify(accepted));
    assert.equal(accepted.kind, 'user');
    assert.equal(accepted.id, KEYCLOAK_USER);
    assert.equal(keycloak.discoveryRequests, before, 'an explicit JWKS URI skips discovery');
    const noScope = await configured(await keycloakToken(keycloak, { scope: 'openid email' }));
    assert.equal(noScope.status, 401);
    const otherAudience = await configured(
      await keycloakToken(keycloak, { aud: 'realm-management' }),
    );
    assert.equal(otherAudience.status, 401);
  });

  it('accepts Entra v2.0 tokens with typ JWT and scp scopes, refuses them by default', async () => {
    const base = { GUESTMODE_OIDC_ISSUER: entra.issuer, GUESTMODE_OIDC_AUDIENCE: ENTRA_APP };
    const strict = await service(base);
    assert.equal((await strict(await entraToken(entra))).status, 401);

    const configured = await service({
      ...base,
      // Several audiences: the app id and its Application ID URI.
      GUESTMODE_OIDC_AUDIENCE: `api://${ENTRA_APP}, ${ENTRA_APP}`,
      GUESTMODE_OIDC_TOKEN_TYPE: 'JWT',
      GUESTMODE_OIDC_REQUIRED_SCOPES: 'guests.readwrite',
    });
    const accepted = await configured(await entraToken(entra));
    assert.equal(accepted.status, 200, JSON.stringify(accepted));
    assert.equal(accepted.kind, 'user');
    const uri = await configured(await entraToken(entra, { aud: `api://${ENTRA_APP}` }));
    assert.equal(uri.status, 200, 'either audience is accepted');
    const lacking = await configured(await entraToken(entra, { scp: 'profile.read' }));
    assert.equal(lacking.status, 401, 'a token without the required scp is refused');
    assert.equal(lacking.error?.code, 'invalid_access_token');
  });

  it('accepts Logto tokens (at+jwt) with the defaults; an algorithm allow-list narrows them', async () => {
    const base = { GUESTMODE_OIDC_ISSUER: logto.issuer, GUESTMODE_OIDC_AUDIENCE: logto.audience };
    const defaults = await service(base);
    const accepted = await defaults(await logto.accessToken({ sub: 'logto-user' }));
    assert.equal(accepted.status, 200, JSON.stringify(accepted));
    assert.equal(accepted.id, 'logto-user');
    // The default type is at+jwt: a JWT-typed token (an ID token's type) is refused.
    assert.equal((await defaults(await logto.accessToken({}, { typ: 'JWT' }))).status, 401);
    const rsaOnly = await service({ ...base, GUESTMODE_OIDC_ALGORITHMS: 'RS256,PS256' });
    assert.equal((await rsaOnly(await logto.accessToken())).status, 401, 'ES384 not allowed');
  });

  it('names the setting of a bad verifier value', async () => {
    const base = { GUESTMODE_OIDC_ISSUER: logto.issuer, GUESTMODE_OIDC_AUDIENCE: 'x' };
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [
        { GUESTMODE_OIDC_ALGORITHMS: 'HS256' },
        /^TypeError: GUESTMODE_OIDC_ALGORITHMS: "HS256" is not allowed/,
      ],
      [{ GUESTMODE_OIDC_TOKEN_TYPE: 'at jwt' }, /^TypeError: GUESTMODE_OIDC_TOKEN_TYPE: /],
      [{ GUESTMODE_OIDC_JWKS_URI: 'ftp://x/keys' }, /^TypeError: GUESTMODE_OIDC_JWKS_URI: /],
    ];
    for (const [env, expected] of cases) {
      assert.throws(() => loadConfig({ env: { ...base, ...env } }), expected);
    }
    await assert.rejects(
      () =>
        buildServer({
          config: { oidc: { issuer: logto.issuer, audience: 'x', tokenType: 7 } as never },
        }),
      /^TypeError: options\.config\.oidc\.tokenType: /,
    );
  });
});
