// The purge of the expired guests by the server's own timer (as `guestmode serve` runs it) under a
// fixed-rate read load: read latency while idle, before the purge's first batch, and during it.
import { type BenchContext, log, sleep } from '../context.js';
import { type BenchDb, rowsDelta } from '../db.js';
import type { Env } from '../proc.js';
import { signed } from '../scenario.js';
import type { ScaleResult } from '../types.js';
import type { GuestmodeStack } from './guestmode.js';

/** Connections of the fixed-rate read load: a steady trickle, not a saturating load. */
const READ_CONNECTIONS = 10;

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

async function purgedCounter(bench: BenchDb): Promise<number> {
  const rows = await bench.query<{ value: number }>({
    sqlite: "SELECT value FROM gm_counters WHERE name = 'purged_expired'",
    postgres: "SELECT value FROM gm_counters WHERE name = 'purged_expired'",
  });
  return Number(rows[0]?.value ?? 0);
}

/**
 * Starts a server whose purge timer fires after `settings.purgeIntervalSeconds`, reads as the
 * `live` guests at a fixed rate, and watches the purged counter (every 50 ms) to find the
 * window between the purge's first and last batch commit. Fills the purge fields of `scale`.
 */
export async function measurePurge(
  ctx: BenchContext,
  stack: GuestmodeStack,
  env: Env,
  bench: BenchDb,
  live: readonly string[],
  scale: ScaleResult,
): Promise<void> {
  const { settings, loader } = ctx;
  const before = await bench.guestmodeRows();
  const purgedBefore = await purgedCounter(bench);
  const server = await ctx.serve(
    [stack.release.cli, 'serve'],
    { ...env, GUESTMODE_PURGE_INTERVAL: `${settings.purgeIntervalSeconds}s` },
    '/healthz',
  );
  try {
    const load = loader.run(
      {
        url: server.url,
        method: 'GET',
        path: '/v1/profile',
        rotate: live.map((t) => ({ authorization: `Bearer ${t}` })),
        connections: READ_CONNECTIONS,
        overallRate: settings.purgeReadRate,
        duration: 240,
        samples: true,
      },
      300_000,
    );
    const loadStarted = Date.now();
    let purgeStart: number | undefined;
    let purgeEnd: number | undefined;
    const deadline = Date.now() + 200_000;
    while (Date.now() < deadline) {
      await sleep(50);
      const purged = (await purgedCounter(bench)) - purgedBefore;
      if (purged > 0 && purgeStart === undefined) purgeStart = Date.now();
      if (purged >= settings.scaleGuests) {
        purgeEnd = Date.now();
        break;
      }
    }
    await sleep(1000);
    loader.stopCurrent();
    const result = await load;
    const samples = result.samples ?? [];
    // The first half second is the load generator's own start.
    const idle = samples
      .filter(([t]) => t >= loadStarted + 500 && t < (purgeStart ?? Number.POSITIVE_INFINITY))
      .map(([, ms]) => ms);
    const during = samples
      .filter(([t]) => purgeStart !== undefined && t >= purgeStart && t <= (purgeEnd ?? 0))
      .map(([, ms]) => ms);
    scale.readRate = settings.purgeReadRate;
    scale.readP50Idle = percentile(idle, 50);
    scale.readP99Idle = percentile(idle, 99);
    scale.readP50DuringPurge = percentile(during, 50);
    scale.readP99DuringPurge = percentile(during, 99);
    scale.readSamplesIdle = idle.length;
    scale.readSamplesDuringPurge = during.length;
    if (purgeStart !== undefined && purgeEnd !== undefined) {
      scale.purgeSeconds = (purgeEnd - purgeStart) / 1000;
    }
    const after = await bench.guestmodeRows();
    scale.purged = (await purgedCounter(bench)) - purgedBefore;
    const d = rowsDelta(before, after);
    scale.rows = {
      passed:
        scale.purged === settings.scaleGuests &&
        d.guests === -settings.scaleGuests &&
        d.attributes === -settings.scaleGuests &&
        result.non2xx === 0 &&
        result.errors === 0,
      detail: `guests ${signed(d.guests)}, attributes ${signed(d.attributes)}, purged counter ${signed(scale.purged)}; reads during the run: ${result.ok}/${result.requests} 2xx`,
    };
    log(
      `scale: purge ${scale.purgeSeconds ?? '?'} s; read p99 idle ${scale.readP99Idle} ms, during ${scale.readP99DuringPurge} ms`,
    );
  } finally {
    await ctx.stop(server);
  }
}
