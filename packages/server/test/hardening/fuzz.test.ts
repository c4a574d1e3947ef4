// Bad input: property-based fuzzing (fast-check) of every route's method, path
// parameter, headers (Authorization, Guest-Token, Cookie, Content-Type, Origin,
// Sec-Fetch-Site, X-Forwarded-For) and body, sent as raw bytes over a TCP socket so that nothing
// in a client library cleans them up first. Properties: never a 5xx; every error is
// {"error":{"code","message"}}; no stack trace, source path, SQL or driver name in any answer;
// and a refused request changes nothing (guest counts and the known profiles are compared).
// Then the named cases: oversized bodies and attributes, deep JSON, invalid UTF-8, thousands of
// attributes.
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { type Service, startService } from '../harness.js';
import { assert, assertErrorShape, assertNoLeak, bySize, report } from './lib.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends one request as raw bytes (Connection: close) and reads the whole answer. */
function rawRequest(port: number, head: string, body: Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(15_000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => {
      // The server may close after answering a bad request before reading all of it.
      if (chunks.length > 0) socket.emit('end');
      else reject(error);
    });
    socket.once('end', () => {
      socket.destroy();
      const data = Buffer.concat(chunks);
      const split = data.indexOf('\r\n\r\n');
      if (split < 0) {
        reject(
          new Error(`no HTTP answer: ${JSON.stringify(data.toString('latin1').slice(0, 200))}`),
        );
        return;
      }
      const lines = data.subarray(0, split).toString('latin1').split('\r\n');
      const status = Number(lines[0]!.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let payload = data.subarray(split + 4);
      if (headers['transfer-encoding'] === 'chunked') {
        const parts: Buffer[] = [];
        let at = 0;
        for (let guard = 0; guard < 100_000; guard++) {
          const eol = payload.indexOf('\r\n', at);
          const size = Number.parseInt(payload.subarray(at, eol).toString(), 16);
          if (!(size > 0)) break;
          parts.push(payload.subarray(eol + 2, eol + 2 + size));
          at = eol + 2 + size + 2;
        }
        payload = Buffer.concat(parts);
      }
      resolve({ status, headers, body: payload.toString('utf8') });
    });
    // No half-close: Node's HTTP server aborts a request whose client ended its side first.
    // `Connection: close` makes the server close once it has answered.
    socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  });
}

/** Header values as they can appear on the wire: any byte but CR, LF and NUL. */
const headerValue = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0x20, max: 0x7e }),
      fc.integer({ min: 0x80, max: 0xff }),
      fc.constant(0x09),
    ),
    { maxLength: 120 },
  )
  .map((codes) => String.fromCharCode(...codes));

const ROUTES = [
  '/v1/guests',
  '/v1/profile',
  '/v1/profile/attributes/cart',
  '/v1/merge',
  '/v1/merge/preview',
  '/healthz',
  '/openapi.json',
  '/metrics',
];

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`bad input is refused cleanly (${kind})`, () => {
    let s: Service;
    let port: number;
    let guest: { guestId: string; token: string };
    let userToken: string;
    const userId = `user_fuzz_${kind}`;
    before(async () => {
      s = await startService({ kind, config: { rateLimit: false } });
      port = Number(new URL(s.base).port);
      const res = await fetch(`${s.base}/v1/guests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ attributes: { cart: [{ id: 'b1', quantity: 2 }], theme: 'dark' } }),
      });
      guest = (await res.json()) as typeof guest;
      userToken = await s.issuer.accessToken({ sub: userId, expiresIn: 7200 });
      await fetch(`${s.base}/v1/profile/attributes/cart`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${userToken}` },
        body: '[{"id":"u1","quantity":1}]',
      });
    });
    after(() => s?.close());

    const snapshot = async () => {
      const stats = await s.guestmode.stats();
      return JSON.stringify([
        stats.created,
        stats.active,
        stats.merged,
        await s.guestmode.getAttributes({ kind: 'guest', id: guest.guestId }),
        await s.guestmode.getAttributes({ kind: 'user', id: userId }),
      ]);
    };

    /** Sends, then checks the properties every answer must have. */
    async function check(method: string, path: string, headers: [string, string][], body: Buffer) {
      const before = await snapshot();
      let head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`;
      for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
      if (body.length > 0 || method === 'PUT' || method === 'POST') {
        head += `Content-Length: ${body.length}\r\n`;
      }
      head += '\r\n';
      const answer = await rawRequest(port, head, body);
      const sent = `${head}${body.toString('latin1')}`;
      const what = `${method} ${JSON.stringify(path)} -> ${answer.status} ${answer.body.slice(0, 300)}`;
      assert.ok(answer.status >= 200 && answer.status < 500, `no 5xx: ${what}`);
      assertNoLeak(answer.body, sent);
      let code = String(answer.status);
      if (answer.status >= 400) {
        if (method !== 'HEAD')
          code = assertErrorShape({ status: answer.status, text: answer.body }, sent);
        assert.equal(await snapshot(), before, `a refused request changed the database: ${what}`);
      }
      return code;
    }

    it('fast-check: any method, path, headers and body', async (t) => {
      const runs = bySize({ short: kind === 'sqlite' ? 400 : 150, long: 5000 });
      const codes: Record<string, number> = {};
      const credential = fc.oneof(
        fc.constant(undefined),
        fc.constant(() => `Bearer ${guest.token}`),
        fc.constant(() => `Bearer ${userToken}`),
        headerValue.map((v) => () => `Bearer ${v}`),
        headerValue.map((v) => () => v),
      );
      const body = fc.oneof(
        fc.constant(Buffer.alloc(0)),
        fc.json().map((j) => Buffer.from(j)),
        fc.jsonValue().map((v) => Buffer.from(JSON.stringify({ attributes: { x: v } }))),
        fc.jsonValue().map((v) => Buffer.from(JSON.stringify({ attributes: v }))),
        fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
        fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(`"${s}"`)),
        fc
          .integer({ min: 1, max: 3000 })
          .map((n) => Buffer.from(`${'['.repeat(n)}${']'.repeat(n)}`)),
      );
      const path = fc.oneof(
        fc.constantFrom(...ROUTES),
        fc
          .string({ unit: 'binary', maxLength: 140 })
          .map((n) => `/v1/profile/attributes/${encodeURIComponent(n)}`),
        fc
          .string({ unit: 'grapheme-ascii', maxLength: 140 })
          .map((n) => `/v1/profile/attributes/${n.replace(/[\s#?]/g, '_')}`),
        fc
          .string({ maxLength: 60 })
          .map((n) => `/${encodeURIComponent(n)}?${encodeURIComponent(n)}`),
        fc.constantFrom(
          '/v1/profile/attributes/%ZZ',
          '/v1/profile/attributes/%C3%28',
          '/v1/profile/attributes/%00',
          '//v1//profile',
          '/v1/profile/attributes/',
          `/v1/profile/attributes/${'a'.repeat(300)}`,
        ),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
          path,
          credential,
          fc.option(
            fc.oneof(
              fc.constant(() => guest.token),
              headerValue.map((v) => () => v),
            ),
          ),
          fc.option(
            fc.oneof(
              fc.constant(() => `guestmode=${guest.token}`),
              headerValue.map((v) => () => `guestmode=${v}`),
              headerValue.map((v) => () => v),
            ),
          ),
          fc.option(
            fc.constantFrom(
              'application/json',
              'application/json; charset=utf-8',
              'text/plain',
              'application/x-www-form-urlencoded',
              'multipart/form-data; boundary=x',
              'application/json; charset=latin1',
              '',
            ),
          ),
          fc.option(
            fc.oneof(
              fc.constantFrom('same-origin', 'cross-site', 'same-site', 'none'),
              headerValue,
            ),
          ),
          fc.option(headerValue),
          body,
          async (method, p, auth, guestToken, cookie, type, site, forwarded, payload) => {
            const headers: [string, string][] = [];
            if (auth) headers.push(['Authorization', auth()]);
            if (guestToken) headers.push(['Guest-Token', guestToken()]);
            if (cookie) headers.push(['Cookie', cookie()]);
            if (type !== null) headers.push(['Content-Type', type]);
            if (site !== null) headers.push(['Sec-Fetch-Site', site]);
            if (forwarded !== null) headers.push(['X-Forwarded-For', forwarded]);
            let code: string;
            try {
              code = await check(method, p, headers, payload);
            } catch (error) {
              // fast-check reports the counterexample; this says what went wrong with it.
              t.diagnostic(`failure: ${(error as Error).message.slice(0, 500)}`);
              throw error;
            }
            codes[code] = (codes[code] ?? 0) + 1;
          },
        ),
        {
          numRuns: runs,
          seed: Number(process.env.GUESTMODE_HARDENING_SEED ?? Date.now() % 2 ** 31),
        },
      );
      report(t, `fuzz-${kind}`, { runs, codes });
    });

    it('named cases: oversized, deep, invalid UTF-8, thousands of attributes', async (t) => {
      const json = 'application/json';
      // A fresh guest: the fuzz run above may have merged the shared one (a valid user token and
      // a valid Guest-Token on POST /v1/merge is one of the inputs it can draw).
      const fresh = await fetch(`${s.base}/v1/guests`, { method: 'POST' });
      const guest = (await fresh.json()) as { token: string };
      const auth: [string, string][] = [
        ['Authorization', `Bearer ${guest.token}`],
        ['Content-Type', json],
      ];
      const value = (n: number) => Buffer.from(JSON.stringify('x'.repeat(n)));
      const many = (n: number) => {
        const attributes: Record<string, number> = {};
        for (let i = 0; i < n; i++) attributes[`a${i}`] = i;
        return Buffer.from(JSON.stringify({ attributes }));
      };
      const cases: [string, string, string, [string, string][], Buffer, string][] = [
        [
          'body over the 1 MiB limit',
          'PUT',
          '/v1/profile/attributes/big',
          auth,
          value(1_100_000),
          'payload_too_large',
        ],
        [
          'body of 20 MiB',
          'POST',
          '/v1/guests',
          [['Content-Type', json]],
          Buffer.alloc(20 * 1024 * 1024, 0x20),
          'payload_too_large',
        ],
        [
          'attribute over 64 KiB',
          'PUT',
          '/v1/profile/attributes/big',
          auth,
          value(70_000),
          'attribute_too_large',
        ],
        [
          'attribute over 64 KiB in UTF-8 bytes only',
          'PUT',
          '/v1/profile/attributes/big',
          auth,
          Buffer.from(JSON.stringify('é'.repeat(40_000))),
          'attribute_too_large',
        ],
        [
          'first attribute over 64 KiB (lazy guest)',
          'PUT',
          '/v1/profile/attributes/big',
          [['Content-Type', json]],
          value(70_000),
          'attribute_too_large',
        ],
        [
          '65 levels deep',
          'PUT',
          '/v1/profile/attributes/deep',
          auth,
          Buffer.from(`${'['.repeat(65)}${']'.repeat(65)}`),
          'invalid_attribute_value',
        ],
        [
          '30,000 levels deep (within 64 KiB)',
          'PUT',
          '/v1/profile/attributes/deep',
          auth,
          Buffer.from(`${'['.repeat(30_000)}${']'.repeat(30_000)}`),
          'invalid_attribute_value',
        ],
        [
          '100,000 levels deep (over 64 KiB)',
          'PUT',
          '/v1/profile/attributes/deep',
          auth,
          Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
          'attribute_too_large',
        ],
        [
          '30,000 levels deep in POST /v1/guests',
          'POST',
          '/v1/guests',
          [['Content-Type', json]],
          Buffer.from(`{"attributes":{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}}}`),
          'invalid_attribute_value',
        ],
        [
          '100,000 open brackets',
          'PUT',
          '/v1/profile/attributes/deep',
          auth,
          Buffer.from('['.repeat(100_000)),
          'invalid_request',
        ],
        [
          'invalid UTF-8 (lone continuation bytes)',
          'PUT',
          '/v1/profile/attributes/bytes',
          auth,
          Buffer.from([0x22, 0x80, 0x81, 0xfe, 0xff, 0x22, 0x7b]),
          'invalid_request',
        ],
        [
          'invalid UTF-8 outside a string',
          'PUT',
          '/v1/profile/attributes/bytes',
          auth,
          Buffer.from([0xc3, 0x28]),
          'invalid_request',
        ],
        [
          '5,000 attributes at creation',
          'POST',
          '/v1/guests',
          [['Content-Type', json]],
          many(5000),
          'too_many_attributes',
        ],
        [
          '257 attributes at creation',
          'POST',
          '/v1/guests',
          [['Content-Type', json]],
          many(257),
          'too_many_attributes',
        ],
        ['empty body', 'PUT', '/v1/profile/attributes/x', auth, Buffer.alloc(0), 'invalid_request'],
        [
          'JSON with trailing garbage',
          'PUT',
          '/v1/profile/attributes/x',
          auth,
          Buffer.from('{"a":1} x'),
          'invalid_request',
        ],
        [
          'text/plain body',
          'PUT',
          '/v1/profile/attributes/x',
          [
            ['Authorization', `Bearer ${guest.token}`],
            ['Content-Type', 'text/plain'],
          ],
          Buffer.from('1'),
          'unsupported_media_type',
        ],
        [
          'form body to merge',
          'POST',
          '/v1/merge',
          [['Content-Type', 'application/x-www-form-urlencoded']],
          Buffer.from('a=1'),
          'unsupported_media_type',
        ],
        [
          'name of 129 characters',
          'PUT',
          `/v1/profile/attributes/${'a'.repeat(129)}`,
          auth,
          Buffer.from('1'),
          'invalid_attribute_name',
        ],
        [
          'name of 5,000 characters',
          'GET',
          `/v1/profile/attributes/${'a'.repeat(5000)}`,
          auth,
          Buffer.alloc(0),
          'invalid_request',
        ],
        [
          'name with a NUL',
          'PUT',
          '/v1/profile/attributes/a%00b',
          auth,
          Buffer.from('1'),
          'invalid_attribute_name',
        ],
        [
          'malformed percent-encoding',
          'GET',
          '/v1/profile/attributes/%E0%A4%A',
          auth,
          Buffer.alloc(0),
          'invalid_request',
        ],
        [
          'Authorization: Basic',
          'GET',
          '/v1/profile',
          [['Authorization', 'Basic YTpi']],
          Buffer.alloc(0),
          'invalid_request',
        ],
        [
          'Authorization of 8 KiB',
          'GET',
          '/v1/profile',
          [['Authorization', `Bearer ${'a'.repeat(8000)}`]],
          Buffer.alloc(0),
          'invalid_access_token',
        ],
        [
          'cookie with malformed percent-encoding',
          'GET',
          '/v1/profile',
          [['Cookie', 'guestmode=%E0%A4%A']],
          Buffer.alloc(0),
          'invalid_guest_credential',
        ],
        [
          'cookie with latin-1 bytes',
          'GET',
          '/v1/profile',
          [['Cookie', 'guestmode=\xe9\xff']],
          Buffer.alloc(0),
          'invalid_guest_credential',
        ],
      ];
      const results: Record<string, string> = {};
      for (const [name, method, path, headers, body, expected] of cases) {
        const code = await check(method, path, headers, body);
        assert.equal(code, expected, name);
        results[name] = code;
      }
      // Thousands of attributes one by one: the 257th is refused, the profile stays at 256.
      const created = await fetch(`${s.base}/v1/guests`, { method: 'POST' });
      const { token } = (await created.json()) as { token: string };
      let refusedAt = -1;
      const attempts = bySize({ short: 300, long: 2000 });
      for (let i = 0; i < attempts; i++) {
        const res = await fetch(`${s.base}/v1/profile/attributes/n${i}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': json },
          body: String(i),
        });
        if (res.status !== 200) {
          assert.equal(
            assertErrorShape({ status: res.status, text: await res.text() }),
            'too_many_attributes',
          );
          if (refusedAt < 0) refusedAt = i;
        } else {
          await res.arrayBuffer();
        }
      }
      assert.equal(refusedAt, 256);
      const profile = await fetch(`${s.base}/v1/profile`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const attributes = ((await profile.json()) as { attributes: object }).attributes;
      assert.equal(Object.keys(attributes).length, 256);
      report(t, `bad-input-${kind}`, {
        namedCases: cases.length,
        attributeWrites: attempts,
        refusedFrom: refusedAt,
      });
    });
  });
}
