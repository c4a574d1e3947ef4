// The service's webhooks end to end, on real `guestmode serve` processes: an event committed while
// the receiver is down survives a SIGKILL of the service and is delivered after the restart;
// three instances on one PostgreSQL database deliver every event, and any duplicate carries the
// same webhook-id. Every delivery is verified with the `standardwebhooks` package.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createTestDatabase,
  startTestIssuer,
  startWebhookReceiver,
  type TestIssuer,
  type WebhookReceiver,
  waitFor,
} from '@guestmode/testkit';
import { Webhook } from 'standardwebhooks';
import { bearer, type ChildService, call, spawnService } from './hardening/lib.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;

describe('webhooks from guestmode serve', () => {
  let issuer: TestIssuer;
  let hooks: WebhookReceiver;
  let dir: string;
  const services: ChildService[] = [];
  before(async () => {
    issuer = await startTestIssuer();
    hooks = await startWebhookReceiver();
    dir = mkdtempSync(join(tmpdir(), 'gm-webhooks-'));
  });
  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await hooks?.close();
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (databaseUrl: string, name: string) => {
    const service = await spawnService({
      databaseUrl,
      issuer,
      mergeRules: { cart: 'sum-by-key' },
      rulesFile: join(dir, `rules-${name}.json`),
      env: {
        GUESTMODE_WEBHOOK_URL: hooks.url,
        GUESTMODE_WEBHOOK_SECRET: secret,
        GUESTMODE_WEBHOOK_PRIVATE_NETWORKS: 'on',
        GUESTMODE_WEBHOOK_POLL_INTERVAL: '50ms',
        GUESTMODE_WEBHOOK_RETRY_DELAY: '50ms',
      },
    });
    services.push(service);
    return service;
  };

  /** Every accepted delivery, verified: the parsed body by webhook-id. */
  const delivered = () => {
    const byId = new Map<string, { type: string; data: Record<string, unknown> }[]>();
    for (const request of hooks.accepted()) {
      const body = new Webhook(secret).verify(request.body, request.headers) as {
        type: string;
        data: Record<string, unknown>;
      };
      const id = request.headers['webhook-id']!;
      byId.set(id, [...(byId.get(id) ?? []), body]);
    }
    return byId;
  };

  const newGuest = async (base: string) => {
    const created = await call<{ token: string; guestId: string }>(base, 'POST', '/v1/guests', {
      json: { attributes: { cart: [{ id: 'b1', quantity: 1 }] } },
    });
    assert.equal(created.status, 201);
    return created.body;
  };

  it('delivers an event committed before a SIGKILL once the service is back', async () => {
    const database = `sqlite:${join(dir, 'killed.db')}`;
    hooks.status = 503;
    let service = await start(database, 'sqlite');
    const guest = await newGuest(service.base);
    const user = `user-${randomBytes(4).toString('hex')}`;
    const merged = await call(service.base, 'POST', '/v1/merge', {
      headers: { ...bearer(await issuer.accessToken({ sub: user })), 'guest-token': guest.token },
    });
    assert.equal(merged.status, 200, merged.text);
    await waitFor(() => hooks.requests.length >= 2, {
      timeoutMs: 20_000,
      message: `no delivery attempts; stderr: ${service.stderr()}`,
    });
    await service.kill();
    const before = hooks.requests.length;
    hooks.status = 204;
    service = await start(database, 'sqlite');
    await waitFor(() => delivered().size >= 1, { timeoutMs: 20_000 });
    const [id, bodies] = [...delivered()][0]!;
    assert.ok(hooks.requests.length > before);
    assert.equal(bodies![0]!.type, 'guest.merged');
    assert.deepEqual([bodies![0]!.data.guestId, bodies![0]!.data.userId], [guest.guestId, user]);
    assert.ok(hooks.requests.every((r) => r.headers['webhook-id'] === id));
    assert.ok(!service.stderr().includes(secret.slice(6)), 'the secret is never logged');
    await service.stop();
  });

  it('three instances on one PostgreSQL database deliver each event; duplicates share the id', async () => {
    const db = await createTestDatabase();
    try {
      hooks.requests.length = 0;
      const three = await Promise.all(['a', 'b', 'c'].map((n) => start(db.url, `pg-${n}`)));
      const guests = [];
      for (let i = 0; i < 30; i++) {
        const base = three[i % 3]!.base;
        const guest = await newGuest(base);
        // Deleted through another instance than the one that created it.
        const deleted = await call(three[(i + 1) % 3]!.base, 'DELETE', '/v1/profile', {
          headers: bearer(guest.token),
        });
        assert.equal(deleted.status, 204);
        guests.push(guest.guestId);
      }
      await waitFor(() => delivered().size >= 30, { timeoutMs: 30_000 });
      const byId = delivered();
      assert.equal(byId.size, 30);
      const seen = new Set<unknown>();
      for (const bodies of byId.values()) {
        assert.ok(bodies.every((b) => JSON.stringify(b) === JSON.stringify(bodies[0])));
        assert.equal(bodies[0]!.type, 'guest.deleted');
        seen.add(bodies[0]!.data.guestId);
      }
      assert.deepEqual([...seen].sort(), [...guests].sort());
      await Promise.all(three.map((s) => s.stop()));
    } finally {
      await db.drop();
    }
  });
});
