// The OpenAPI document names the guest cookie the service really sets: `guestmode` over plain
// HTTP and `__Host-guestmode` over HTTPS (here: a trusted proxy saying `X-Forwarded-Proto: https`).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildServer, loadConfig } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'guestmode-openapi-cookies-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the document's cookie schemes are the cookies the service sets", async () => {
  const config = loadConfig({
    env: {
      GUESTMODE_DATABASE_URL: `sqlite:${join(dir, 'guestmode.db')}`,
      GUESTMODE_TRUST_PROXY: '127.0.0.1',
      GUESTMODE_LOG_LEVEL: 'silent',
    },
    argv: [],
  });
  const app = await buildServer({ config, logger: false });
  try {
    const set = async (headers: Record<string, string>) => {
      const answer = await app.inject({
        method: 'POST',
        url: '/v1/guests',
        remoteAddress: '127.0.0.1',
        headers,
      });
      assert.equal(answer.statusCode, 201, answer.body);
      const cookie = String(answer.headers['set-cookie']);
      return { name: cookie.split('=')[0]!, secure: /;\s*Secure/i.test(cookie) };
    };
    const http = await set({});
    const https = await set({ 'x-forwarded-proto': 'https' });
    assert.deepEqual(http, { name: 'guestmode', secure: false });
    assert.deepEqual(https, { name: '__Host-guestmode', secure: true });

    const doc = (await app.inject({ url: '/openapi.json' })).json() as {
      components: { securitySchemes: Record<string, { type: string; in?: string; name?: string }> };
      security: Record<string, unknown>[];
    };
    const schemes = Object.entries(doc.components.securitySchemes).filter(
      ([, scheme]) => scheme.type === 'apiKey' && scheme.in === 'cookie',
    );
    assert.deepEqual(
      schemes.map(([, scheme]) => scheme.name).sort(),
      [https.name, http.name].sort(),
    );
    for (const [key] of schemes) {
      assert.ok(
        doc.security.some((requirement) => key in requirement),
        key,
      );
    }
  } finally {
    await app.close();
  }
});
