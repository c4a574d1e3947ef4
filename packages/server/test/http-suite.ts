// The HTTP suite, run against SQLite (http-sqlite.test.ts) and PostgreSQL (http-postgres.test.ts):
// every endpoint and every error code over real HTTP, with real access tokens from a
// test issuer, and every JSON body checked against /openapi.json.
import { after, before, describe, it } from 'node:test';
import { randomId } from '@guestmode/testkit';
import {
  adminHeaders,
  assert,
  assertError,
  cookies,
  type Service,
  type StorageKind,
  startService,
} from './harness.js';

interface Created {
  guestId: string;
  token: string;
  expiresAt: string;
}
interface Profile {
  kind: 'guest' | 'user';
  id: string;
  attributes: Record<string, unknown>;
}
interface MergeBody {
  userId: string;
  guestId: string;
  attributes: Record<string, unknown>;
  changes: { attribute: string; outcome: string }[];
  conflicts: unknown[];
  before?: { user: Record<string, unknown>; guest: Record<string, unknown> };
  after?: Record<string, unknown>;
}

const DAY = 86_400_000;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Changes one character of the secret part, keeping the shape of a credential. */
function typo(token: string): string {
  const i = token.length - 5;
  return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
}

/** Parses Prometheus text: every line is a comment or `name{labels} value`. */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})?) (\S+)$/.exec(
        line,
      );
    assert.ok(match, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    const value = Number(match[2]);
    assert.ok(!Number.isNaN(value), line);
    samples.set(match[1]!, value);
  }
  return samples;
}

export function runHttpSuite(kind: StorageKind): void {
  describe(`HTTP service on ${kind}`, () => {
    let s: Service;
    const newGuest = async (attributes?: Record<string, unknown>) => {
      const res = await s.request<Created>(
        'POST',
        '/v1/guests',
        attributes ? { json: { attributes } } : {},
      );
      assert.equal(res.status, 201, res.text);
      return res.body;
    };
    const userToken = (sub: string) => s.issuer.accessToken({ sub });

    before(async () => {
      s = await startService({ kind, config: { rateLimit: false } });
    });
    after(() => s.close());

    it('creates a guest with a token, an expiry and an HttpOnly SameSite=Lax cookie', async () => {
      const res = await s.request<Created>('POST', '/v1/guests');
      assert.equal(res.status, 201);
      assert.match(res.body.token, /^gm_/);
      assert.ok(Date.parse(res.body.expiresAt) > Date.now() + 29 * DAY);
      const cookie = cookies(res.headers).get('guestmode');
      assert.ok(cookie, 'guestmode cookie');
      assert.equal(cookie.value, res.body.token);
      const attrs = cookie.attributes.map((a) => a.toLowerCase());
      assert.ok(attrs.includes('httponly'));
      assert.ok(attrs.includes('samesite=lax'));
      assert.ok(attrs.includes('path=/'));
      assert.ok(!attrs.includes('secure'), 'plain HTTP: no Secure');
      assert.ok(attrs.some((a) => a.startsWith('expires=')));
    });

    it('creates a guest with first attributes, readable by token and by cookie', async () => {
      const guest = await newGuest({ theme: 'dark', cart: [{ id: 'b1', quantity: 1 }] });
      const byToken = await s.request<Profile>('GET', '/v1/profile', {
        headers: bearer(guest.token),
      });
      assert.equal(byToken.status, 200);
      assert.deepEqual(byToken.body, {
        kind: 'guest',
        id: guest.guestId,
        attributes: { theme: 'dark', cart: [{ id: 'b1', quantity: 1 }] },
      });
      const byCookie = await s.request<Profile>('GET', '/v1/profile', {
        headers: { cookie: `guestmode=${guest.token}` },
      });
      assert.deepEqual(byCookie.body, byToken.body);
    });

    it('refuses a bad POST /v1/guests body', async () => {
      assertError(
        await s.request('POST', '/v1/guests', { json: { cart: [] } }),
        400,
        'invalid_request',
      );
      assertError(
        await s.request('POST', '/v1/guests', { json: { attributes: [1] } }),
        400,
        'invalid_request',
      );
      assertError(
        await s.request('POST', '/v1/guests', { json: { attributes: { 'bad name': 1 } } }),
        400,
        'invalid_attribute_name',
      );
    });

    it('creates a lazy guest on the first PUT, storing the JSON exactly as sent', async () => {
      const raw = '{"items":[{"id":"b1","quantity":2.50}],"note":"caf\\u00e9"}';
      const res = await s.request<Created & { name: string; value: unknown }>(
        'PUT',
        '/v1/profile/attributes/{name}',
        { params: { name: 'cart' }, raw, headers: { 'content-type': 'application/json' } },
      );
      assert.equal(res.status, 201, res.text);
      assert.match(res.body.token, /^gm_/);
      assert.equal(res.body.name, 'cart');
      assert.ok(res.text.includes(raw), 'the value is echoed byte for byte');
      assert.equal(cookies(res.headers).get('guestmode')?.value, res.body.token);
      const read = await s.request('GET', '/v1/profile/attributes/{name}', {
        params: { name: 'cart' },
        headers: bearer(res.body.token),
      });
      assert.equal(read.status, 200);
      assert.equal(read.text, `{"name":"cart","value":${raw}}`);
    });

    it('refuses an invalid credential on PUT instead of silently starting a new guest', async () => {
      const guest = await newGuest();
      const viaCookie = await s.request('PUT', '/v1/profile/attributes/{name}', {
        params: { name: 'cart' },
        json: [],
        headers: { cookie: `guestmode=${typo(guest.token)}` },
      });
      assertError(viaCookie, 401, 'invalid_guest_credential');
      // The dead cookie is cleared so the browser stops sending it.
      assert.match(
        cookies(viaCookie.headers).get('guestmode')?.attributes.join(';') ?? '',
        /Expires=Thu, 01 Jan 1970/i,
      );
      assertError(
        await s.request('PUT', '/v1/profile/attributes/{name}', {
          params: { name: 'cart' },
          json: [],
          headers: bearer(typo(guest.token)),
        }),
        401,
        'invalid_guest_credential',
      );
      assertError(
        await s.request('GET', '/v1/profile', { headers: bearer(`${guest.token}x`) }),
        401,
        'invalid_guest_credential',
      );
    });

    it('reads, replaces and deletes attributes', async () => {
      const { token } = await newGuest();
      const h = bearer(token);
      const put = await s.request('PUT', '/v1/profile/attributes/{name}', {
        params: { name: 'theme' },
        json: 'dark',
        headers: h,
      });
      assert.equal(put.status, 200);
      assert.deepEqual(put.body, { name: 'theme', value: 'dark' });
      const replace = await s.request('PUT', '/v1/profile/attributes/{name}', {
        params: { name: 'theme' },
        json: { mode: 'light', contrast: null },
        headers: h,
      });
      assert.equal(replace.status, 200);
      const get = await s.request('GET', '/v1/profile/attributes/{name}', {
        params: { name: 'theme' },
        headers: h,
      });
      assert.deepEqual(get.body, { name: 'theme', value: { mode: 'light', contrast: null } });
      const del = await s.request('DELETE', '/v1/profile/attributes/{name}', {
        params: { name: 'theme' },
        headers: h,
      });
      assert.equal(del.status, 204);
      assert.equal(del.text, '');
      assertError(
        await s.request('GET', '/v1/profile/attributes/{name}', {
          params: { name: 'theme' },
          headers: h,
        }),
        404,
        'attribute_not_found',
      );
      assertError(
        await s.request('DELETE', '/v1/profile/attributes/{name}', {
          params: { name: 'theme' },
          headers: h,
        }),
        404,
        'attribute_not_found',
      );
    });

    it('validates names, JSON, media types and sizes', async () => {
      const h = bearer((await newGuest()).token);
      const put = (name: string, extra: Parameters<Service['request']>[2]) =>
        s.request('PUT', '/v1/profile/attributes/{name}', {
          params: { name },
          headers: h,
          ...extra,
        });
      assertError(await put('bad name', { json: 1 }), 400, 'invalid_attribute_name');
      assertError(await put('-dash', { json: 1 }), 400, 'invalid_attribute_name');
      assertError(
        await s.request('GET', '/v1/profile/attributes/{name}', {
          params: { name: 'x'.repeat(129) },
          headers: h,
        }),
        400,
        'invalid_attribute_name',
      );
      assertError(
        await s.request('GET', '/v1/profile/attributes/{name}', {
          params: { name: 'x'.repeat(300) },
          headers: h,
        }),
        400,
        'invalid_request',
      );
      assertError(
        await put('cart', { raw: '{"a":', headers: { ...h, 'content-type': 'application/json' } }),
        400,
        'invalid_request',
      );
      assertError(
        await put('cart', { raw: '', headers: { ...h, 'content-type': 'application/json' } }),
        400,
        'invalid_request',
      );
      assertError(
        await put('cart', { raw: '[]', headers: { ...h, 'content-type': 'text/plain' } }),
        415,
        'unsupported_media_type',
      );
      assertError(
        await put('cart', {
          raw: 'a=1',
          headers: { ...h, 'content-type': 'application/x-www-form-urlencoded' },
        }),
        415,
        'unsupported_media_type',
      );
      assertError(await put('big', { json: 'x'.repeat(70_000) }), 413, 'attribute_too_large');
      assertError(
        await put('deep', {
          raw: `${'['.repeat(100)}${']'.repeat(100)}`,
          headers: { ...h, 'content-type': 'application/json' },
        }),
        400,
        'invalid_attribute_value',
      );
      assertError(await put('huge', { json: 'x'.repeat(1_100_000) }), 413, 'payload_too_large');
    });

    it('asks for a credential and refuses other Authorization schemes', async () => {
      assertError(await s.request('GET', '/v1/profile'), 401, 'credential_required');
      assertError(
        await s.request('GET', '/v1/profile/attributes/{name}', { params: { name: 'cart' } }),
        401,
        'credential_required',
      );
      assertError(
        await s.request('DELETE', '/v1/profile/attributes/{name}', { params: { name: 'cart' } }),
        401,
        'credential_required',
      );
      assertError(
        await s.request('GET', '/v1/profile', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }),
        400,
        'invalid_request',
      );
    });

    it('serves a user profile to an access token', async () => {
      const sub = `user_${randomId(6)}`;
      const h = bearer(await userToken(sub));
      const empty = await s.request<Profile>('GET', '/v1/profile', { headers: h });
      assert.deepEqual(empty.body, { kind: 'user', id: sub, attributes: {} });
      const put = await s.request('PUT', '/v1/profile/attributes/{name}', {
        params: { name: 'theme' },
        json: 'dark',
        headers: h,
      });
      assert.equal(put.status, 200);
      const read = await s.request<Profile>('GET', '/v1/profile', { headers: h });
      assert.deepEqual(read.body.attributes, { theme: 'dark' });
    });

    it('previews, merges exactly once, replays, and retires the guest token', async () => {
      const sub = `user_${randomId(6)}`;
      const access = await userToken(sub);
      await s.request('PUT', '/v1/profile/attributes/{name}', {
        params: { name: 'cart' },
        json: [
          { id: 'book-1', quantity: 2 },
          { id: 'book-2', quantity: 1 },
        ],
        headers: bearer(access),
      });
      const guest = await newGuest({ cart: [{ id: 'book-1', quantity: 1 }], theme: 'dark' });
      const headers = { ...bearer(access), 'guest-token': guest.token };

      const preview = await s.request<MergeBody>('POST', '/v1/merge/preview', { headers });
      assert.equal(preview.status, 200, preview.text);
      assert.deepEqual(preview.body.before, {
        user: {
          cart: [
            { id: 'book-1', quantity: 2 },
            { id: 'book-2', quantity: 1 },
          ],
        },
        guest: { cart: [{ id: 'book-1', quantity: 1 }], theme: 'dark' },
      });
      assert.deepEqual(preview.body.after?.cart, [
        { id: 'book-1', quantity: 3 },
        { id: 'book-2', quantity: 1 },
      ]);
      // Nothing changed: the guest still works and the user's cart is as it was.
      const stillGuest = await s.request<Profile>('GET', '/v1/profile', {
        headers: bearer(guest.token),
      });
      assert.equal(stillGuest.status, 200);
      const userBefore = await s.request<Profile>('GET', '/v1/profile', {
        headers: bearer(access),
      });
      assert.deepEqual(userBefore.body.attributes.cart, [
        { id: 'book-1', quantity: 2 },
        { id: 'book-2', quantity: 1 },
      ]);

      const merged = await s.request<MergeBody>('POST', '/v1/merge', { headers });
      assert.equal(merged.status, 200, merged.text);
      assert.equal(merged.headers.get('idempotent-replayed'), null);
      assert.equal(merged.body.userId, sub);
      assert.equal(merged.body.guestId, guest.guestId);
      assert.deepEqual(merged.body.attributes, {
        cart: [
          { id: 'book-1', quantity: 3 },
          { id: 'book-2', quantity: 1 },
        ],
        theme: 'dark',
      });

      const retry = await s.request<MergeBody>('POST', '/v1/merge', { headers });
      assert.equal(retry.status, 200);
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
      assert.equal(retry.text, merged.text, 'a retry answers the same body');

      const replayPreview = await s.request<MergeBody & { alreadyMerged?: boolean }>(
        'POST',
        '/v1/merge/preview',
        { headers },
      );
      assert.equal(replayPreview.status, 200);
      assert.equal(replayPreview.body.alreadyMerged, true);

      const asUser = await s.request<Profile>('GET', '/v1/profile', { headers: bearer(access) });
      assert.deepEqual(asUser.body.attributes.cart, merged.body.attributes.cart);

      assertError(
        await s.request('GET', '/v1/profile', { headers: bearer(guest.token) }),
        401,
        'guest_merged',
      );
      assertError(
        await s.request('PUT', '/v1/profile/attributes/{name}', {
          params: { name: 'cart' },
          json: [],
          headers: bearer(guest.token),
        }),
        401,
        'guest_merged',
      );
      const other = await userToken(`user_${randomId(6)}`);
      assertError(
        await s.request('POST', '/v1/merge', {
          headers: { ...bearer(other), 'guest-token': guest.token },
        }),
        409,
        'guest_already_merged',
      );
    });

    it('refuses a merge whose rule cannot combine the values (422, nothing changes)', async () => {
      const sub = `user_${randomId(6)}`;
      const access = await userToken(sub);
      await s.request('PUT', '/v1/profile/attributes/{name}', {
        params: { name: 'cart' },
        json: 'not a list',
        headers: bearer(access),
      });
      const guest = await newGuest({ cart: [{ id: 'a', quantity: 1 }] });
      assertError(
        await s.request('POST', '/v1/merge', {
          headers: { ...bearer(access), 'guest-token': guest.token },
        }),
        422,
        'merge_rule_failed',
      );
      assert.equal(
        (await s.request('GET', '/v1/profile', { headers: bearer(guest.token) })).status,
        200,
      );
    });

    it('merges with the guest cookie from the same origin and refuses it cross-site', async () => {
      const access = await userToken(`user_${randomId(6)}`);
      const guest = await newGuest({ theme: 'dark' });
      const cookie = `guestmode=${guest.token}`;
      assertError(
        await s.request('POST', '/v1/merge', {
          headers: { ...bearer(access), cookie, origin: 'https://evil.example' },
        }),
        403,
        'cross_site_request',
      );
      assertError(
        await s.request('POST', '/v1/merge', {
          headers: { ...bearer(access), cookie, 'sec-fetch-site': 'cross-site' },
        }),
        403,
        'cross_site_request',
      );
      assertError(
        await s.request('POST', '/v1/merge/preview', {
          headers: { ...bearer(access), cookie, 'sec-fetch-site': 'same-site' },
        }),
        403,
        'cross_site_request',
      );
      const ok = await s.request<MergeBody>('POST', '/v1/merge', {
        headers: { ...bearer(access), cookie, origin: s.base, 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body.attributes, { theme: 'dark' });
      assert.match(
        cookies(ok.headers).get('guestmode')?.attributes.join(';') ?? '',
        /Expires=Thu, 01 Jan 1970/i,
        'cookie cleared',
      );
    });

    it('refuses every attack token as an access token (invalid_access_token)', async () => {
      const guest = await newGuest({ theme: 'dark' });
      const issuer = s.issuer;
      const good = await issuer.accessToken({ sub: 'user_victim' });
      const attacks: Record<string, string> = {
        'alg none': issuer.unsignedToken({ sub: 'user_victim' }),
        'HS256 with the public key (PEM)': await issuer.hs256WithPublicKey({ sub: 'user_victim' }),
        'HS256 with the public key (JWK)': await issuer.hs256WithPublicKey(
          { sub: 'user_victim' },
          'jwk',
        ),
        'signed by a stranger': await issuer.signedByStranger({ sub: 'user_victim' }),
        'tampered payload': issuer.tamperPayload(good, { sub: 'user_admin' }),
        'tampered signature': issuer.tamperSignature(good),
        expired: await issuer.accessToken({ sub: 'user_victim', expiresIn: -120 }),
        'wrong audience': await issuer.accessToken({
          sub: 'user_victim',
          aud: 'https://other.api',
        }),
        'wrong issuer': await issuer.accessToken({
          sub: 'user_victim',
          iss: 'https://evil.example/oidc',
        }),
        'ID token': await issuer.idToken({ sub: 'user_victim' }),
        'guest token': guest.token,
        'not a JWT': 'hello',
      };
      for (const [name, token] of Object.entries(attacks)) {
        const res = await s.request('POST', '/v1/merge', {
          headers: { ...bearer(token), 'guest-token': guest.token },
        });
        assertError(res, 401, 'invalid_access_token');
        const preview = await s.request('POST', '/v1/merge/preview', {
          headers: { ...bearer(token), 'guest-token': guest.token },
        });
        assertError(preview, 401, 'invalid_access_token');
        if (name !== 'guest token') {
          assertError(
            await s.request('GET', '/v1/profile', { headers: bearer(token) }),
            401,
            'invalid_access_token',
          );
        }
      }
      assertError(
        await s.request('POST', '/v1/merge', { headers: { 'guest-token': guest.token } }),
        401,
        'invalid_access_token',
      );
      // The guest is untouched by all of that.
      assert.equal(
        (await s.request('GET', '/v1/profile', { headers: bearer(guest.token) })).status,
        200,
      );
    });

    it('refuses a bad guest credential on merge (invalid_guest_credential)', async () => {
      const access = await userToken(`user_${randomId(6)}`);
      const guest = await newGuest();
      for (const guestToken of [
        typo(guest.token),
        access,
        'gm_nope',
        `gm_${'A'.repeat(22)}.${'B'.repeat(43)}`,
      ]) {
        assertError(
          await s.request('POST', '/v1/merge', {
            headers: { ...bearer(access), 'guest-token': guestToken },
          }),
          401,
          'invalid_guest_credential',
        );
      }
      assertError(
        await s.request('POST', '/v1/merge', { headers: bearer(access) }),
        401,
        'invalid_guest_credential',
      );
    });

    it('refuses an expired guest everywhere (guest_expired)', async () => {
      const access = await userToken(`user_${randomId(6)}`);
      const guest = await newGuest({ theme: 'dark' });
      const saved = s.clock;
      s.clock += 31 * DAY;
      try {
        assertError(
          await s.request('GET', '/v1/profile', { headers: bearer(guest.token) }),
          401,
          'guest_expired',
        );
        assertError(
          await s.request('PUT', '/v1/profile/attributes/{name}', {
            params: { name: 'x' },
            json: 1,
            headers: bearer(guest.token),
          }),
          401,
          'guest_expired',
        );
        assertError(
          await s.request('POST', '/v1/merge', {
            headers: { ...bearer(access), 'guest-token': guest.token },
          }),
          401,
          'guest_expired',
        );
        assertError(
          await s.request('POST', '/v1/merge/preview', {
            headers: { ...bearer(access), 'guest-token': guest.token },
          }),
          401,
          'guest_expired',
        );
      } finally {
        s.clock = saved;
      }
    });

    it('limits guest creation per address (429 rate_limited with Retry-After)', async () => {
      const limited = await startService({
        kind,
        issuer: s.issuer,
        config: { rateLimit: { max: 2, windowMs: 60_000 } },
      });
      try {
        assert.equal((await limited.request('POST', '/v1/guests')).status, 201);
        const lazy = await limited.request('PUT', '/v1/profile/attributes/{name}', {
          params: { name: 'cart' },
          json: [],
        });
        assert.equal(lazy.status, 201);
        const refused = await limited.request('POST', '/v1/guests');
        assertError(refused, 429, 'rate_limited');
        const retryAfter = Number(refused.headers.get('retry-after'));
        assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
        assertError(
          await limited.request('PUT', '/v1/profile/attributes/{name}', {
            params: { name: 'cart' },
            json: [],
          }),
          429,
          'rate_limited',
        );
        // Writes by an existing guest are not guest creations and are not limited.
        const h = bearer((lazy.body as Created).token);
        assert.equal(
          (
            await limited.request('PUT', '/v1/profile/attributes/{name}', {
              params: { name: 'cart' },
              json: [1],
              headers: h,
            })
          ).status,
          200,
        );
      } finally {
        await limited.close();
      }
    });

    it('answers health, OpenAPI, stats, the dashboard, and not_found', async () => {
      const health = await s.request('GET', '/healthz');
      assert.deepEqual(health.body, { status: 'ok' });
      const doc = await s.request<{ openapi: string }>('GET', '/openapi.json');
      assert.equal(doc.body.openapi, '3.1.0');
      const stats = await s.request<{ totals: { created: number } }>('GET', '/v1/stats', {
        headers: adminHeaders,
      });
      assert.equal(stats.status, 200);
      assert.ok(stats.body.totals.created > 0);
      const page = await s.request('GET', '/', { headers: adminHeaders });
      assert.equal(page.status, 200);
      assert.match(page.text, /<svg id="funnel"/);
      const missing = await fetch(`${s.base}/v1/nope`);
      const text = await missing.text();
      assertError(
        { status: missing.status, headers: missing.headers, text, body: JSON.parse(text) },
        404,
        'not_found',
      );
    });

    it('exposes Prometheus metrics that parse', async () => {
      const res = await s.request('GET', '/metrics', { headers: adminHeaders });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const m = parsePrometheus(res.text);
      assert.ok(m.get('guestmode_guests_created_total')! > 0);
      assert.ok(m.get('guestmode_guests_merged_total')! >= 2);
      assert.ok(m.has('guestmode_guests_active'));
      assert.ok(m.has('guestmode_guests_expired_total'));
      assert.ok(m.get('guestmode_merge_duration_seconds_count')! >= 2);
      assert.equal(
        m.get('guestmode_merge_duration_seconds_bucket{le="+Inf"}'),
        m.get('guestmode_merge_duration_seconds_count'),
      );
      assert.ok(m.get('guestmode_rejected_requests_total{code="invalid_access_token"}')! > 0);
      assert.ok(m.get('guestmode_rejected_requests_total{code="guest_merged"}')! > 0);
    });

    it('documents every route it served in /openapi.json', () => {
      const seen = [...s.openapi.seen].join('\n');
      for (const route of [
        'POST /v1/guests 201',
        'GET /v1/profile 200',
        'PUT /v1/profile/attributes/{name} 201',
        'PUT /v1/profile/attributes/{name} 200',
        'DELETE /v1/profile/attributes/{name} 204',
        'POST /v1/merge 200',
        'POST /v1/merge 409',
        'POST /v1/merge/preview 200',
      ]) {
        assert.ok(seen.includes(route), `${route} was exercised`);
      }
    });
  });
}
