// The merge's ceiling on this machine: how many ES384 access tokens per second jose verifies.
// Every merge checks one access token (a fresh one each time, so the verifier's cache never
// answers), so no server can merge faster than this, whatever its database.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { type BenchContext, log } from '../context.js';
import { signTokens } from '../fixtures.js';
import { baseOf, failed, type Subject } from '../scenario.js';
import { AUDIENCE, CONNECTIONS } from '../settings.js';
import type { ScenarioResult } from '../types.js';
import type { GuestmodeStack } from './guestmode.js';

const SUBJECT: Subject = { system: 'machine', db: '-' };
const SCENARIO = {
  name: 'es384-verify',
  request: `jose jwtVerify of an ES384 access token (the merge scenario's key and claims), ${CONNECTIONS} in flight, one worker thread`,
};
/** Distinct tokens the worker goes through in turn (jose keeps no cache of its own). */
const TOKENS = 2_000;

interface WorkerAnswer {
  count: number;
  failures: number;
  seconds: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * One worker thread: one event loop like the server's one process, and the same
 * `CONNECTIONS` verifications in flight as the merge scenario's connections.
 */
export async function runEs384(ctx: BenchContext, stack: GuestmodeStack): Promise<ScenarioResult> {
  const base = baseOf(SUBJECT, SCENARIO);
  try {
    const ids = Array.from({ length: TOKENS }, (_, i) => `bench-verify-${i}`);
    const tokens = await signTokens(stack.issuer, ids);
    const worker = new Worker(join(ctx.root, 'bench/servers/es384-verify.mjs'), {
      workerData: {
        tokens,
        jwks: stack.issuer.jwks,
        issuer: stack.issuer.issuer,
        audience: AUDIENCE,
        warmupSeconds: ctx.settings.warmupSeconds,
        seconds: ctx.settings.seconds,
        inFlight: CONNECTIONS,
      },
    });
    const answer = await new Promise<WorkerAnswer>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the ES384 worker exited with ${code}`)));
    });
    await worker.terminate();
    const ok = answer.count - answer.failures;
    log(
      `machine es384-verify: ${Math.round(ok / Math.max(answer.seconds, 0.001))}/s, ${answer.failures} rejected`,
    );
    const r = (n: number) => Math.round(n * 100) / 100;
    return {
      ...base,
      load: {
        requests: answer.count,
        seconds: answer.seconds,
        rps: answer.seconds > 0 ? ok / answer.seconds : 0,
        p50: r(answer.p50),
        p90: r(answer.p90),
        p99: r(answer.p99),
        max: r(answer.max),
        ok,
        non2xx: answer.failures,
        errors: 0,
        timeouts: 0,
        statusCodes: {},
        bytes: 0,
      },
      bytesPerResponse: 0,
      rows: {
        passed: answer.count > 0 && answer.failures === 0,
        detail: `no rows (no database); ${ok} verified, ${answer.failures} rejected`,
      },
    };
  } catch (error) {
    return failed(base, error);
  }
}
