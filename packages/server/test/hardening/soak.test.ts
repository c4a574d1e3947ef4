// Soak: bounded mixed traffic against the real `guestmode serve` (child process, SQLite)
// for 15 s in `npm test`, 30 s in `npm run test:hardening`, 10 minutes in the long mode. The
// server's own memory is sampled (RSS, and the heap after a full GC, through memory-probe.ts);
// every answer must carry an expected code. The heap at the end must stay within a bound of the
// heap after warm-up: a leak per request would break it, ordinary growth (SQLite cache, the
// dashboard's bounded series) does not. No timing assertions: throughput is only reported.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestIssuer, type TestIssuer } from '@guestmode/testkit';
import {
  assert,
  bearer,
  bySize,
  type ChildService,
  call,
  report,
  rng,
  SPAWNED_ADMIN_TOKEN,
  seedFromEnv,
  spawnService,
} from './lib.js';

const MiB = 1024 * 1024;

/** Every answer the soak may see, as `status code` (codes only for errors). */
const EXPECTED = new Set([
  '200',
  '201',
  '204',
  '401 guest_merged',
  '401 invalid_access_token',
  '401 invalid_guest_credential',
  '400 invalid_attribute_name',
  '400 invalid_request',
  '404 attribute_not_found',
  '404 not_found',
  '409 guest_already_merged',
  '413 attribute_too_large',
  '415 unsupported_media_type',
]);

describe('soak: mixed traffic with steady memory', () => {
  let issuer: TestIssuer;
  let service: ChildService;
  let dir: string;
  before(async () => {
    issuer = await startTestIssuer();
    dir = mkdtempSync(join(tmpdir(), 'gm-soak-'));
    service = await spawnService({
      databaseUrl: `sqlite:${join(dir, 'guestmode.db')}`,
      issuer,
      mergeRules: { cart: 'sum-by-key', theme: 'user-wins' },
      rulesFile: join(dir, 'rules.json'),
      memoryProbe: true,
    });
  });
  after(async () => {
    await service?.stop();
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('no unexpected answer, heap after warm-up within bounds', async (t) => {
    const durationMs = bySize({ short: 15_000, ci: 30_000, long: 600_000 });
    const sampleEveryMs = bySize({ short: 1_000, ci: 2_000, long: 10_000 });
    const seed = seedFromEnv();
    const random = rng(seed);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    const users = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        issuer.accessToken({ sub: `user_soak_${i}`, expiresIn: 7200 }),
      ),
    );
    const guests: string[] = [];
    const answers: Record<string, number> = {};
    const unexpected: string[] = [];
    let requests = 0;
    const base = service.base;
    const note = async (promise: Promise<{ status: number; body: unknown; text: string }>) => {
      const res = await promise;
      requests++;
      const code = (res.body as { error?: { code?: string } } | undefined)?.error?.code;
      const key = code ? `${res.status} ${code}` : String(res.status);
      answers[key] = (answers[key] ?? 0) + 1;
      if (!EXPECTED.has(key) && unexpected.length < 20)
        unexpected.push(`${key} ${res.text.slice(0, 200)}`);
      return res;
    };
    const operation = async () => {
      const roll = random();
      const guest = guests.length > 0 ? pick(guests) : undefined;
      if (roll < 0.15 || !guest) {
        const res = await note(
          call(base, 'POST', '/v1/guests', {
            json: { attributes: { cart: [{ id: pick(['a', 'b', 'c']), quantity: 1 }] } },
          }),
        );
        if (res.status === 201) {
          guests.push((res.body as { token: string }).token);
          if (guests.length > 2000) guests.splice(0, 1000);
        }
      } else if (roll < 0.35) {
        const name = pick(['cart', 'theme', 'draft']);
        const value =
          name === 'cart'
            ? [{ id: pick(['a', 'b', 'c']), quantity: 1 + Math.floor(random() * 3) }]
            : { at: requests, text: 'x'.repeat(Math.floor(random() * 2000)) };
        await note(
          call(base, 'PUT', `/v1/profile/attributes/${name}`, {
            headers: bearer(guest),
            json: value,
          }),
        );
      } else if (roll < 0.55) {
        await note(call(base, 'GET', '/v1/profile', { headers: bearer(guest) }));
      } else if (roll < 0.6) {
        await note(
          call(base, 'GET', `/v1/profile/attributes/${pick(['cart', 'missing'])}`, {
            headers: { cookie: `guestmode=${guest}` },
          }),
        );
      } else if (roll < 0.65) {
        await note(
          call(base, 'DELETE', '/v1/profile/attributes/draft', { headers: bearer(guest) }),
        );
      } else if (roll < 0.75) {
        await note(
          call(base, 'POST', '/v1/merge', {
            headers: { ...bearer(pick(users)), 'guest-token': guest },
          }),
        );
      } else if (roll < 0.8) {
        await note(
          call(base, 'POST', '/v1/merge/preview', {
            headers: { ...bearer(pick(users)), 'guest-token': guest },
          }),
        );
      } else if (roll < 0.85) {
        await note(call(base, 'GET', '/v1/profile', { headers: bearer(pick(users)) }));
      } else if (roll < 0.95) {
        // The refusals a real service sees all day.
        const bad = pick([
          () =>
            call(base, 'PUT', '/v1/profile/attributes/bad%20name', {
              headers: bearer(guest),
              json: 1,
            }),
          () => call(base, 'GET', '/v1/profile', { headers: bearer('eyJhbGciOiJub25lIn0.e30.') }),
          () => call(base, 'GET', '/v1/profile', { headers: bearer(`${guest.slice(0, -1)}A`) }),
          () =>
            call(base, 'PUT', '/v1/profile/attributes/big', {
              headers: bearer(guest),
              json: 'x'.repeat(70_000),
            }),
          () =>
            call(base, 'PUT', '/v1/profile/attributes/x', {
              headers: { ...bearer(guest), 'content-type': 'text/plain' },
              raw: '1',
            }),
          () =>
            call(base, 'PUT', '/v1/profile/attributes/x', {
              headers: { ...bearer(guest), 'content-type': 'application/json' },
              raw: '{',
            }),
          () => call(base, 'GET', '/nowhere'),
        ]);
        await note(bad());
      } else {
        await note(
          call(base, 'GET', pick(['/healthz', '/metrics', '/v1/stats']), {
            headers: { authorization: `Bearer ${SPAWNED_ADMIN_TOKEN}` },
          }),
        );
      }
    };

    const samples: { atMs: number; rss: number; heapUsed: number }[] = [];
    const started = Date.now();
    const deadline = started + durationMs;
    let stopSampling = false;
    const sampler = (async () => {
      for (let i = 0; i < 10_000 && !stopSampling; i++) {
        const memory = await service.memory();
        samples.push({ atMs: Date.now() - started, ...memory });
        await new Promise((resolve) => setTimeout(resolve, sampleEveryMs));
      }
    })();
    const worker = async () => {
      // Bounded in count and in time.
      for (let i = 0; i < 5_000_000 && Date.now() < deadline; i++) await operation();
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    stopSampling = true;
    await sampler;
    const last = await service.memory();
    samples.push({ atMs: Date.now() - started, ...last });

    assert.deepEqual(unexpected, [], 'only expected answers');
    assert.equal(service.process.exitCode, null, 'the service is still running');
    const warm = samples.find((s) => s.atMs >= durationMs * 0.2) ?? samples[0]!;
    const bound = Math.max(2 * warm.heapUsed, warm.heapUsed + 48 * MiB);
    assert.ok(last.heapUsed <= bound, `heap grew from ${warm.heapUsed} to ${last.heapUsed} bytes`);
    const mb = (n: number) => Math.round((n / MiB) * 10) / 10;
    report(t, 'soak', {
      seed,
      seconds: Math.round((Date.now() - started) / 1000),
      requests,
      requestsPerSecond: Math.round(requests / ((Date.now() - started) / 1000)),
      answers,
      heapWarmMiB: mb(warm.heapUsed),
      heapEndMiB: mb(last.heapUsed),
      heapMaxMiB: mb(Math.max(...samples.map((s) => s.heapUsed))),
      rssWarmMiB: mb(warm.rss),
      rssEndMiB: mb(last.rss),
      rssMaxMiB: mb(Math.max(...samples.map((s) => s.rss))),
      samples: samples.length,
    });
  });
});
