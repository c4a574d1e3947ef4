// Token attacks on every endpoint that takes a credential, in every place a
// credential can be sent (Authorization: Bearer, Guest-Token, the guest cookie), over real HTTP
// with real signatures from a test issuer, on SQLite and PostgreSQL. Every case must be refused
// with its documented code, every answer matches /openapi.json (the harness checks), and the
// database is unchanged by all of them.

import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Service, startService } from '../harness.js';
import { assert, assertErrorShape, report } from './lib.js';

const DAY = 86_400_000;

/** Changes one character of the secret (or, with `part: 'id'`, of the guest id). */
function typo(token: string, part: 'id' | 'secret'): string {
  const i = part === 'secret' ? token.length - 7 : 5;
  return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
}

interface Endpoint {
  method: string;
  template: string;
  path: string;
  /** Merge endpoints take the user's token in Authorization and the guest separately. */
  merge: boolean;
  body?: unknown;
}

const ENDPOINTS: Endpoint[] = [
  { method: 'GET', template: '/v1/profile', path: '/v1/profile', merge: false },
  {
    method: 'GET',
    template: '/v1/profile/attributes/{name}',
    path: '/v1/profile/attributes/cart',
    merge: false,
  },
  {
    method: 'PUT',
    template: '/v1/profile/attributes/{name}',
    path: '/v1/profile/attributes/cart',
    merge: false,
    body: [{ id: 'forged', quantity: 99 }],
  },
  {
    method: 'DELETE',
    template: '/v1/profile/attributes/{name}',
    path: '/v1/profile/attributes/cart',
    merge: false,
  },
  { method: 'POST', template: '/v1/merge', path: '/v1/merge', merge: true },
  { method: 'POST', template: '/v1/merge/preview', path: '/v1/merge/preview', merge: true },
];

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`token attacks on every credentialed endpoint (${kind})`, () => {
    let s: Service;
    before(async () => {
      s = await startService({ kind, config: { rateLimit: false } });
    });
    after(() => s?.close());

    /** A digest of every row the attacks could touch (read through the engine's own store). */
    async function snapshot(users: string[], guests: string[]): Promise<string> {
      const hash = createHash('sha256');
      const stats = await s.guestmode.stats();
      hash.update(JSON.stringify({ ...stats, now: 0 }));
      for (const id of users) {
        hash.update(JSON.stringify(await s.guestmode.getAttributes({ kind: 'user', id })));
      }
      for (const id of guests) {
        hash.update(JSON.stringify(await s.guestmode.getAttributes({ kind: 'guest', id })));
      }
      return hash.digest('hex');
    }

    it('every forged, replayed or misplaced credential is refused with its code', async (t) => {
      const issuer = s.issuer;
      const victimUser = `user_victim_${kind}`;
      const create = async () => {
        const res = await s.request<{ guestId: string; token: string }>('POST', '/v1/guests', {
          json: { attributes: { cart: [{ id: 'b1', quantity: 1 }] } },
        });
        assert.equal(res.status, 201);
        return res.body;
      };
      const victim = await create();
      const merged = await create();
      const expiring = await create();
      // A user who already owns something: a forged write must not touch it.
      const owner = await issuer.accessToken({ sub: victimUser });
      assert.equal(
        (
          await s.request('PUT', '/v1/profile/attributes/{name}', {
            params: { name: 'cart' },
            headers: { authorization: `Bearer ${owner}` },
            json: [{ id: 'mine', quantity: 1 }],
          })
        ).status,
        200,
      );
      const mergeRes = await s.request('POST', '/v1/merge', {
        headers: { authorization: `Bearer ${owner}`, 'guest-token': merged.token },
      });
      assert.equal(mergeRes.status, 200);

      const sub = { sub: victimUser };
      const valid = await issuer.accessToken(sub);
      const idToken = await issuer.idToken(sub);
      // Access-token attacks: each must be 401 invalid_access_token wherever an access token goes.
      const accessAttacks: [string, string][] = [
        ['alg none', issuer.unsignedToken(sub)],
        ['HS256 keyed with the public key (PEM)', await issuer.hs256WithPublicKey(sub, 'pem')],
        ['HS256 keyed with the public key (JWK)', await issuer.hs256WithPublicKey(sub, 'jwk')],
        ['wrong issuer', await issuer.accessToken({ ...sub, iss: 'https://evil.example/oidc' })],
        ['wrong audience', await issuer.accessToken({ ...sub, aud: 'https://other.api' })],
        ['typ JWT (not at+jwt)', await issuer.accessToken(sub, { typ: 'JWT' })],
        ['no typ', await issuer.accessToken(sub, { typ: undefined })],
        ['unknown kid', await issuer.accessToken(sub, { kid: 'not-a-key' })],
        ['signed by a stranger under a known kid', await issuer.signedByStranger(sub)],
        ['expired', await issuer.accessToken({ ...sub, expiresIn: -3600 })],
        ['not yet valid', await issuer.accessToken({ ...sub, notBefore: 3600 })],
        ['no sub', await issuer.accessToken({ sub: undefined })],
        ['tampered payload (sub)', issuer.tamperPayload(valid, { sub: 'user_admin' })],
        [
          'tampered payload (exp)',
          issuer.tamperPayload(await issuer.accessToken({ ...sub, expiresIn: -3600 }), {
            exp: 9_999_999_999,
          }),
        ],
        ['tampered signature', issuer.tamperSignature(valid)],
        ['signature stripped', `${valid.split('.').slice(0, 2).join('.')}.`],
        ['ID token as access token', idToken],
        ['garbage', 'eyJhbGciOiJub25lIn0.e30.'],
      ];
      // Guest-credential attacks, and the code each must get.
      const guestAttacks: [string, string, string, number][] = [
        ['access token as guest token', valid, 'invalid_guest_credential', 401],
        ['ID token as guest token', idToken, 'invalid_guest_credential', 401],
        [
          "another guest's token, one character changed (secret)",
          typo(victim.token, 'secret'),
          'invalid_guest_credential',
          401,
        ],
        [
          "another guest's token, one character changed (id)",
          typo(victim.token, 'id'),
          'invalid_guest_credential',
          401,
        ],
        ['truncated guest token', victim.token.slice(0, -1), 'invalid_guest_credential', 401],
        ['guest id without secret', `gm_${victim.guestId}`, 'invalid_guest_credential', 401],
        [
          'made-up well-formed guest token',
          `gm_${'A'.repeat(22)}.${'B'.repeat(43)}`,
          'invalid_guest_credential',
          401,
        ],
        ['guest token after its merge', merged.token, 'guest_merged', 401],
      ];

      const cases: { what: string; code: string; status: number }[] = [];
      const before = await snapshot([victimUser, 'user_admin'], [victim.guestId, expiring.guestId]);
      const attempt = async (
        endpoint: Endpoint,
        where: string,
        headers: Record<string, string>,
        status: number,
        code: string,
      ) => {
        const res = await s.request(endpoint.method, endpoint.template, {
          params: { name: 'cart' },
          headers,
          ...(endpoint.body === undefined ? {} : { json: endpoint.body }),
        });
        const what = `${endpoint.method} ${endpoint.path} ${where}`;
        assert.equal(res.status, status, `${what}: ${res.text}`);
        assert.equal(assertErrorShape(res), code, `${what}: ${res.text}`);
        cases.push({ what, code, status });
      };

      for (const endpoint of ENDPOINTS) {
        for (const [name, token] of accessAttacks) {
          const headers: Record<string, string> = { authorization: `Bearer ${token}` };
          if (endpoint.merge) headers['guest-token'] = victim.token;
          await attempt(endpoint, `Bearer ${name}`, headers, 401, 'invalid_access_token');
        }
        if (endpoint.merge) {
          // A guest credential where the user's access token belongs.
          await attempt(
            endpoint,
            'Bearer guest token as access token',
            { authorization: `Bearer ${victim.token}`, 'guest-token': victim.token },
            401,
            'invalid_access_token',
          );
          await attempt(
            endpoint,
            'no access token',
            { 'guest-token': victim.token },
            401,
            'invalid_access_token',
          );
          for (const [name, token, code, status] of guestAttacks) {
            // Merging a merged guest into another user is 409 (into its own user it replays).
            const expected: [number, string] =
              token === merged.token ? [409, 'guest_already_merged'] : [status, code];
            const other = await issuer.accessToken({ sub: 'user_attacker' });
            await attempt(
              endpoint,
              `Guest-Token ${name}`,
              { authorization: `Bearer ${other}`, 'guest-token': token },
              ...expected,
            );
            await attempt(
              endpoint,
              `cookie ${name}`,
              { authorization: `Bearer ${other}`, cookie: `guestmode=${token}` },
              ...expected,
            );
          }
        } else {
          for (const [name, token, code, status] of guestAttacks) {
            // A JWT as Bearer is an access token, so "access token as guest token" is the cookie.
            if (!token.startsWith('eyJ')) {
              await attempt(
                endpoint,
                `Bearer ${name}`,
                { authorization: `Bearer ${token}` },
                status,
                code,
              );
            }
            await attempt(
              endpoint,
              `cookie ${name}`,
              { cookie: `guestmode=${token}` },
              status,
              code,
            );
          }
        }
      }

      // Expired guest: move the engine's clock past the lifetime.
      s.clock += 31 * DAY;
      try {
        for (const endpoint of ENDPOINTS) {
          if (endpoint.merge) {
            const user = await issuer.accessToken(sub);
            await attempt(
              endpoint,
              'Guest-Token expired guest',
              { authorization: `Bearer ${user}`, 'guest-token': expiring.token },
              401,
              'guest_expired',
            );
            await attempt(
              endpoint,
              'cookie expired guest',
              { authorization: `Bearer ${user}`, cookie: `guestmode=${expiring.token}` },
              401,
              'guest_expired',
            );
          } else {
            await attempt(
              endpoint,
              'Bearer expired guest',
              { authorization: `Bearer ${expiring.token}` },
              401,
              'guest_expired',
            );
            await attempt(
              endpoint,
              'cookie expired guest',
              { cookie: `guestmode=${expiring.token}` },
              401,
              'guest_expired',
            );
          }
        }
      } finally {
        s.clock -= 31 * DAY;
      }

      const afterAll = await snapshot(
        [victimUser, 'user_admin'],
        [victim.guestId, expiring.guestId],
      );
      assert.equal(afterAll, before, 'no refused request changed anything');
      // And the victim's credential still works: nothing was locked out or merged.
      const still = await s.request<{ attributes: unknown }>('GET', '/v1/profile', {
        headers: { authorization: `Bearer ${victim.token}` },
      });
      assert.deepEqual(still.body.attributes, { cart: [{ id: 'b1', quantity: 1 }] });
      const byCode: Record<string, number> = {};
      for (const c of cases) byCode[c.code] = (byCode[c.code] ?? 0) + 1;
      report(t, `tokens-${kind}`, {
        cases: cases.length,
        accessTokenAttacks: accessAttacks.length + 2,
        guestCredentialAttacks: guestAttacks.length + 1,
        endpoints: ENDPOINTS.length,
        byCode,
      });
    });

    it('a guest token whose random part happens to contain "eyJ" works as a Bearer token', {
      // Found by this suite: the server used core's looksLikeGuestCredential, which refuses
      // tokens containing "eyJ"; fixed in packages/server/src/auth.ts.
      skip: kind === 'postgres' ? 'the store does not matter; run once' : false,
    }, async () => {
      let token: string | undefined;
      for (let i = 0; i < 100_000 && token === undefined; i++) {
        const created = await s.guestmode.createGuest({ n: i });
        if (created.token.includes('eyJ')) token = created.token;
        else if (i % 500 === 499) await s.guestmode.purgeExpired();
      }
      assert.ok(token, 'no token with "eyJ" in 100,000 tries');
      const res = await s.request('GET', '/v1/profile', {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200, res.text);
    });
  });
}
