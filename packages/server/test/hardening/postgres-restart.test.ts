// PostgreSQL restarting under the service: a dedicated embedded server (restarting the
// shared one would break other test files) is stopped under the real `guestmode serve`, once
// cleanly and once crash-like (immediate: WAL replay on start). While it is down every endpoint
// that needs the database answers 503 storage_unavailable with Retry-After, and writes sent then
// leave no trace; once it is back the same service process answers again and nothing
// acknowledged is lost.
//
// The other two tests restart PostgreSQL while transactions are in flight (under load, and
// deterministically while a merge waits inside a rule). They found a crash, fixed in f1ee2d7: a
// checked-out pooled client had no 'error' listener (pg-pool removes its idle listener on
// checkout, and pg emits 'error' on every unexpected disconnect), so the service died with an
// uncaught "Connection terminated unexpectedly" instead of answering 503.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGuestmode, GuestmodeError } from '@guestmode/core';
import { openPostgresStorage } from '@guestmode/core/postgres';
import {
  type PostgresServer,
  startPostgres,
  startTestIssuer,
  type TestIssuer,
  waitFor,
} from '@guestmode/testkit';
import pg from 'pg';
import {
  type Answer,
  assert,
  assertRefused,
  bearer,
  bySize,
  type ChildService,
  call,
  report,
  seedFromEnv,
  spawnService,
} from './lib.js';
import { MergeWorkload, WORKLOAD_RULES } from './workload.js';

describe('PostgreSQL restarting under the service', () => {
  let postgres: PostgresServer;
  let issuer: TestIssuer;
  let service: ChildService | undefined;
  let dir: string;
  let databaseUrl: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gm-pg-restart-'));
    postgres = await startPostgres();
    issuer = await startTestIssuer();
    // The test server runs with synchronous_commit=off (fast tests); a crash-like restart would
    // then lose the last acknowledged commits by design. Production PostgreSQL syncs commits.
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query('CREATE DATABASE guestmode');
    await admin.query('ALTER ROLE postgres SET synchronous_commit = on');
    await admin.end();
    const url = new URL(postgres.url);
    url.pathname = '/guestmode';
    databaseUrl = url.toString();
  });
  after(async () => {
    await service?.stop();
    await issuer?.close();
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => {
    if (service && service.process.exitCode === null && service.process.signalCode === null) {
      return service;
    }
    service = await spawnService({
      databaseUrl,
      issuer,
      mergeRules: WORKLOAD_RULES,
      rulesFile: join(dir, 'rules.json'),
    });
    return service;
  };

  /** Every endpoint that touches the database, while it is down: 503 storage_unavailable. */
  async function probeOutage(base: string, guestToken: string, user: string, tag: string) {
    let probes = 0;
    for (let i = 0; i < 3; i++) {
      const answers: [string, Answer][] = [
        ['GET /healthz', await call(base, 'GET', '/healthz')],
        ['GET profile', await call(base, 'GET', '/v1/profile', { headers: bearer(guestToken) })],
        [
          'PUT',
          await call(base, 'PUT', `/v1/profile/attributes/probe:${tag}-${i}`, {
            headers: bearer(guestToken),
            json: { lost: true },
          }),
        ],
        [
          'DELETE',
          await call(base, 'DELETE', '/v1/profile/attributes/cart', {
            headers: bearer(guestToken),
          }),
        ],
        ['POST /v1/guests', await call(base, 'POST', '/v1/guests', { json: {} })],
        ['lazy PUT', await call(base, 'PUT', '/v1/profile/attributes/lazy', { json: 1 })],
        [
          'merge',
          await call(base, 'POST', '/v1/merge', {
            headers: { ...bearer(user), 'guest-token': guestToken },
          }),
        ],
        [
          'preview',
          await call(base, 'POST', '/v1/merge/preview', {
            headers: { ...bearer(user), 'guest-token': guestToken },
          }),
        ],
        ['user profile', await call(base, 'GET', '/v1/profile', { headers: bearer(user) })],
      ];
      for (const [what, answer] of answers) {
        assertRefused(answer, 503, 'storage_unavailable', `${tag}: ${what}`);
        assert.equal(answer.headers.get('retry-after'), '5');
        probes++;
      }
    }
    return probes;
  }

  async function outageRun(
    t: { diagnostic(message: string): void },
    suite: string,
    loadDuringRestart: boolean,
  ) {
    const seed = seedFromEnv();
    let s = await start();
    const workload = new MergeWorkload({
      guests: bySize({ short: 80, long: 200 }),
      users: 6,
      seed,
      issuer,
      faults: true,
    });
    await workload.setup(s.base);
    const probe = await call<{ token: string }>(s.base, 'POST', '/v1/guests', {
      json: { attributes: { cart: [{ id: 'book-1', quantity: 1 }] } },
    });
    assert.equal(probe.status, 201);
    const user = await issuer.accessToken({ sub: `user_probe_${seed}` });
    const started = Date.now();
    let probes = 0;
    const outages = bySize({
      short: ['immediate', 'fast'] as const,
      long: ['immediate', 'fast', 'immediate', 'fast'] as const,
    });
    for (const [round, mode] of outages.entries()) {
      let stop = false;
      const load = workload.run(s.base, 100_000, 8, () => stop);
      const target = workload.acked + 30;
      await waitFor(() => workload.acked >= target, { timeoutMs: 60_000 });
      if (!loadDuringRestart) {
        stop = true;
        await load;
      }
      try {
        await postgres.restart({
          mode,
          whileDown: async () => {
            if (loadDuringRestart) await new Promise((resolve) => setTimeout(resolve, 200));
            assert.equal(s.process.exitCode, null, `the service died: ${s.stderr().slice(-1500)}`);
            probes += await probeOutage(s.base, probe.body.token, user, `${mode}-${round}`);
          },
        });
        // The same service process: its pool reconnects by itself.
        await waitFor(async () => (await call(s.base, 'GET', '/healthz')).status === 200, {
          timeoutMs: 30_000,
          message: 'service did not recover after PostgreSQL restarted',
        });
      } finally {
        stop = true;
        await load;
      }
      assert.equal(s.process.exitCode, null, `service died: ${s.stderr().slice(-2000)}`);
    }
    // Nothing sent during the outages landed; the probe guest is intact and usable.
    const kept = await call<{ attributes: Record<string, unknown> }>(s.base, 'GET', '/v1/profile', {
      headers: bearer(probe.body.token),
    });
    assert.equal(kept.status, 200, kept.text);
    assert.deepEqual(kept.body.attributes, { cart: [{ id: 'book-1', quantity: 1 }] });
    const userProfile = await call<{ attributes: Record<string, unknown> }>(
      s.base,
      'GET',
      '/v1/profile',
      { headers: bearer(user) },
    );
    assert.deepEqual(userProfile.body.attributes, {});
    s = await start();
    await workload.run(s.base, 200, 8);
    const figures = await workload.verify(s.base);
    const unavailable = Object.entries(workload.figures.byAnswer)
      .filter(([key]) => key.includes('503'))
      .reduce((total, [, count]) => total + count, 0);
    report(t, suite, {
      seed,
      outages: outages.length,
      probes,
      loadAnswered503: unavailable,
      ...figures,
      ms: Date.now() - started,
    });
  }

  it('503 storage_unavailable while down, then serves again with nothing lost', async (t) => {
    await outageRun(t, 'postgres-restart', false);
  });

  it('survives PostgreSQL restarting in the middle of transactions', async (t) => {
    await outageRun(t, 'postgres-restart-under-load', true);
  });

  it('deterministic: a restart while a merge transaction waits in a rule is a 503, not a crash', async () => {
    let entered!: () => void;
    const inRule = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const engine = createGuestmode({
      storage: await openPostgresStorage({ database: databaseUrl }),
      mergeRules: {
        slow: async ({ guest }) => {
          entered();
          await gate;
          return { value: guest.value, outcome: 'copied' };
        },
      },
    });
    try {
      const { token } = await engine.createGuest({ slow: 1 });
      const merge = engine.merge({ guestToken: token, userId: 'user_slow' }).then(
        () => 'merged',
        (error: unknown) => error,
      );
      // The merge holds a pooled client inside its transaction, between two queries.
      await inRule;
      await postgres.restart({ mode: 'fast', whileDown: () => release() });
      const outcome = await merge;
      assert.ok(outcome instanceof GuestmodeError, `merge ended with ${String(outcome)}`);
      assert.equal(outcome.code, 'storage_unavailable');
    } finally {
      await engine.close();
    }
  });
});
