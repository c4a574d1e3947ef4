// guestmodePlugin mounts the service under a prefix of a host's Fastify app: the same routes,
// answers and headers, while the host's own routes keep their content-type parsers and hooks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { guestmodePlugin } from '../src/index.js';
import { assert } from './harness.js';

describe('guestmodePlugin in a host app', () => {
  let dir: string;
  let host: FastifyInstance;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gm-plugin-'));
    host = Fastify();
    // The host's own JSON parser and hook: they must keep applying to its routes only.
    host.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      done(null, { parsedBy: 'host', text: body });
    });
    host.addHook('onSend', async (_request, reply) => {
      reply.header('x-host-hook', 'yes');
    });
    host.post('/echo', async (request) => ({ received: request.body }));
    await host.register(guestmodePlugin, {
      prefix: '/guestmode',
      config: {
        database: { kind: 'sqlite', path: join(dir, 'gm.db') },
        dashboard: false,
        purgeIntervalMs: 0,
      },
    });
    base = await host.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the host's route, parser and hooks as they were", async () => {
    const json = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    assert.equal(json.status, 200);
    assert.deepEqual(await json.json(), { received: { parsedBy: 'host', text: '{"a":1}' } });
    assert.equal(json.headers.get('x-host-hook'), 'yes');
    assert.equal(json.headers.get('cache-control'), null, "the plugin's headers stay inside it");
    // Fastify's own text/plain parser is still the host's, though the plugin refuses text/plain.
    const text = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    assert.deepEqual(await text.json(), { received: 'hello' });
    const missing = await fetch(`${base}/nowhere`);
    assert.equal(missing.status, 404);
    assert.doesNotMatch(await missing.text(), /"not_found"/, "the host's 404 stays the host's");
  });

  it('serves the API under the prefix with the same answers and headers', async () => {
    const put = await fetch(`${base}/guestmode/v1/profile/attributes/cart`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '[{"id":"book-1","quantity":1}]',
    });
    assert.equal(put.status, 201);
    const { token } = (await put.json()) as { token: string };
    assert.match(token, /^gm_/);
    assert.equal(put.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(put.headers.get('cache-control'), 'no-store');
    assert.equal(put.headers.get('vary'), 'Cookie, Authorization');
    assert.equal(put.headers.get('x-host-hook'), 'yes', "the host's hooks still wrap its children");

    const profile = await fetch(`${base}/guestmode/v1/profile`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(profile.status, 200);
    assert.deepEqual(((await profile.json()) as { attributes: unknown }).attributes, {
      cart: [{ id: 'book-1', quantity: 1 }],
    });

    const text = await fetch(`${base}/guestmode/v1/profile/attributes/cart`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${token}` },
      body: '[]',
    });
    assert.equal(text.status, 415, 'the plugin accepts JSON only, as the service does');
    const unknown = await fetch(`${base}/guestmode/v1/nope`);
    assert.equal(unknown.status, 404);
    const body = (await unknown.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'not_found');
    assert.equal(body.error.message, 'No route GET /v1/nope.');
    for (const path of ['/guestmode/livez', '/guestmode/readyz', '/guestmode/openapi.json']) {
      assert.equal((await fetch(`${base}${path}`)).status, 200, path);
    }
  });

  it('refuses options it does not know, naming them', async () => {
    const app = Fastify();
    await assert.rejects(async () => {
      await app.register(guestmodePlugin, { prefix: '/gm', confg: {} } as never);
    }, /^TypeError: options\.confg: unknown option/);
    await app.close();
  });
});
