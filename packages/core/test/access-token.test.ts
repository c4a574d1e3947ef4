import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createAccessTokenVerifier, GuestmodeError } from '@guestmode/core';
import { closeServer, listen, startTestIssuer, type TestIssuer } from '@guestmode/testkit';

async function refused(promise: Promise<unknown>, code = 'invalid_access_token'): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof GuestmodeError, String(error));
    assert.equal(error.code, code);
    return true;
  });
}

describe('access token verification', () => {
  let issuer: TestIssuer;
  let other: TestIssuer;
  before(async () => {
    issuer = await startTestIssuer();
    other = await startTestIssuer();
  });
  after(async () => {
    await issuer.close();
    await other.close();
  });
  const verifier = () =>
    createAccessTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience });

  it('accepts a Logto-shaped ES384 at+jwt found through discovery, and caches the keys', async () => {
    const v = verifier();
    const token = await issuer.accessToken({ sub: 'user_1' });
    const { userId, claims } = await v.verify(token);
    assert.equal(userId, 'user_1');
    assert.equal(claims.iss, issuer.issuer);
    const fetches = issuer.requests;
    for (let i = 0; i < 5; i++) await v.verify(await issuer.accessToken({ sub: `user_${i}` }));
    assert.equal(issuer.requests, fetches, 'keys are fetched once, not per token');
  });

  it('works with an explicit JWKS URI and a list of audiences', async () => {
    const v = createAccessTokenVerifier({
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      audience: ['https://other.example', issuer.audience],
    });
    assert.equal((await v.verify(await issuer.accessToken({ sub: 'u' }))).userId, 'u');
  });

  it('follows key rotation', async () => {
    const v = createAccessTokenVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      jwksCooldownMs: 0,
    });
    await v.verify(await issuer.accessToken());
    await issuer.rotateKeys();
    assert.ok((await v.verify(await issuer.accessToken({ sub: 'after-rotation' }))).userId);
    issuer.dropOldKeys();
  });

  it('refuses every token that is not a valid access token for this API', async () => {
    const v = verifier();
    const bad: [string, Promise<string> | string][] = [
      ['wrong issuer', issuer.accessToken({ iss: 'https://evil.example/oidc' })],
      ['wrong audience', issuer.accessToken({ aud: 'https://api.other.local' })],
      ['expired', issuer.accessToken({ expiresIn: -3600 })],
      ['not yet valid', issuer.accessToken({ notBefore: 3600 })],
      ['no expiry', issuer.accessToken({ exp: undefined })],
      ['no subject', issuer.accessToken({ sub: undefined })],
      ['typ JWT', issuer.accessToken({}, { typ: 'JWT' })],
      ['unknown kid', issuer.accessToken({}, { kid: 'nope' })],
      ['ID token', issuer.idToken()],
      ['alg none', issuer.unsignedToken()],
      ['HS256 with the public key (PEM)', issuer.hs256WithPublicKey({}, 'pem')],
      ['HS256 with the public key (JWK)', issuer.hs256WithPublicKey({}, 'jwk')],
      ['signed by a stranger with our kid', issuer.signedByStranger()],
      ['another issuer', other.accessToken({ iss: issuer.issuer, aud: issuer.audience })],
      [
        'tampered payload',
        issuer.accessToken().then((t) => issuer.tamperPayload(t, { sub: 'admin' })),
      ],
      ['tampered signature', issuer.accessToken().then((t) => issuer.tamperSignature(t))],
      ['a guest credential', `gm_${'A'.repeat(22)}.${'B'.repeat(43)}`],
      ['garbage', 'eyJ.garbage.x'],
      ['empty', ''],
    ];
    for (const [label, token] of bad) {
      await refused(v.verify(await token).then(() => assert.fail(`${label} was accepted`)));
    }
  });

  it('refuses machine-to-machine tokens unless the client is allowed by name', async () => {
    const v = verifier();
    // A client-credentials token: its subject is the client itself (RFC 9068 §2.2, Logto M2M).
    const m2m = await issuer.accessToken({ sub: 'm2m-app', client_id: 'm2m-app' });
    const viaAzp = await issuer.accessToken({
      sub: 'm2m-app',
      client_id: undefined,
      azp: 'm2m-app',
    });
    await assert.rejects(v.verify(m2m), (error: unknown) => {
      assert.ok(error instanceof GuestmodeError);
      assert.equal(error.code, 'invalid_access_token');
      assert.match(error.message, /machine-to-machine/);
      return true;
    });
    await refused(v.verify(viaAzp));
    // A user's token issued to the same client still passes.
    const user = await issuer.accessToken({ sub: 'user_7', client_id: 'm2m-app' });
    assert.equal((await v.verify(user)).userId, 'user_7');

    const allowing = createAccessTokenVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      allowClients: ['m2m-app'],
    });
    assert.equal((await allowing.verify(m2m)).userId, 'm2m-app');
    const stranger = await issuer.accessToken({ sub: 'other-app', client_id: 'other-app' });
    await refused(allowing.verify(stranger));
    assert.throws(
      () =>
        createAccessTokenVerifier({
          issuer: issuer.issuer,
          audience: issuer.audience,
          allowClients: [''],
        }),
      /accessTokens\.allowClients/,
    );
  });

  it('refuses an ID token even when the typ check is disabled', async () => {
    const v = createAccessTokenVerifier({
      issuer: issuer.issuer,
      audience: 'test-client',
      typ: false,
    });
    await refused(v.verify(await issuer.idToken()));
  });

  it('reports an unreachable provider as provider_unavailable, and recovers', async () => {
    const v = createAccessTokenVerifier({
      issuer: 'http://127.0.0.1:9/oidc',
      audience: issuer.audience,
      timeoutMs: 500,
    });
    await refused(v.verify(await issuer.accessToken()), 'provider_unavailable');
  });

  it('reports a JWKS that cannot be reached or answers 5xx as provider_unavailable', async () => {
    const failing = createServer((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const url = await listen(failing);
    try {
      const token = await issuer.accessToken();
      for (const jwksUri of [`${url}/jwks`, 'http://127.0.0.1:9/jwks']) {
        const v = createAccessTokenVerifier({
          issuer: issuer.issuer,
          audience: issuer.audience,
          jwksUri,
        });
        await refused(v.verify(token), 'provider_unavailable');
      }
    } finally {
      await closeServer(failing);
    }
  });

  it('remembers a token that verified, never one that did not, and not past its expiry', async () => {
    const v = createAccessTokenVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      clockToleranceSeconds: 0,
    });
    const token = await issuer.accessToken({ sub: 'cached' });
    const first = await v.verify(token);
    // The same (frozen) answer: the signature was not checked a second time.
    assert.equal(await v.verify(token), first);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.claims));
    // A token that differs anywhere is verified on its own and refused.
    await refused(v.verify(await issuer.tamperSignature(token)));
    await refused(v.verify(issuer.tamperPayload(token, { sub: 'admin' })));
    assert.equal(await v.verify(token), first);

    const shortLived = await issuer.accessToken({ sub: 'short', expiresIn: 2 });
    await v.verify(shortLived);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    await refused(v.verify(shortLived));
  });

  it('forgets the oldest tokens past maxEntries, and can be switched off', async () => {
    const v = createAccessTokenVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      cache: { maxEntries: 2 },
    });
    const tokens = await Promise.all(['a', 'b', 'c'].map((sub) => issuer.accessToken({ sub })));
    const answers = [];
    for (const token of tokens) answers.push(await v.verify(token));
    assert.equal(await v.verify(tokens[2]!), answers[2]);
    assert.notEqual(await v.verify(tokens[0]!), answers[0], 'the oldest was forgotten');

    const off = createAccessTokenVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      cache: false,
    });
    const token = tokens[1]!;
    assert.notEqual(await off.verify(token), await off.verify(token));
  });

  it('validates its options once, naming the option', () => {
    assert.throws(
      () => createAccessTokenVerifier({ issuer: 'not a url', audience: 'x' }),
      /accessTokens\.issuer/,
    );
    assert.throws(
      () => createAccessTokenVerifier({ issuer: issuer.issuer, audience: [] }),
      /accessTokens\.audience/,
    );
    assert.throws(
      () =>
        createAccessTokenVerifier({
          issuer: issuer.issuer,
          audience: 'x',
          algorithms: ['HS256'],
        }),
      /accessTokens\.algorithms: "HS256"/,
    );
    assert.throws(
      () =>
        createAccessTokenVerifier({
          issuer: issuer.issuer,
          audience: 'x',
          cache: { maxEntries: 0 },
        }),
      /accessTokens\.cache\.maxEntries/,
    );
    assert.throws(
      () =>
        createAccessTokenVerifier({
          issuer: issuer.issuer,
          audience: 'x',
          jwksURI: 'http://x.test/jwks',
        } as never),
      /^TypeError: accessTokens\.jwksURI: unknown option/,
    );
  });
});
