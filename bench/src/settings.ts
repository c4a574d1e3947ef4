// How big and how long each part of the run is: the full run of record, or the quick smoke run
// that `npm test` makes.

/** Connections of every throughput scenario (the purge's fixed-rate reads use their own 10). */
export const CONNECTIONS = 50;
/** The audience of the access tokens the test issuer signs and the server expects. */
export const AUDIENCE = 'https://api.bench.local';
/** The merge rules `guestmode serve` runs with: carts add up by line id. */
export const MERGE_RULES = { cart: 'sum-by-key' } as const;

/** The parts `--only` can name; the ceiling and the ES384 rate always run. */
export const PARTS = [
  'guestmode-sqlite',
  'guestmode-postgres',
  'guestmode-postgres-2x',
  'better-auth-sqlite',
  'better-auth-postgres',
  'scale',
] as const;
export type Part = (typeof PARTS)[number];

export interface Settings {
  readonly quick: boolean;
  readonly warmupSeconds: number;
  /** The measured run: about this many seconds at the warm-up's rate, as an exact count. */
  readonly seconds: number;
  /** Guests that `read` and `write` go through in turn. */
  readonly readPool: number;
  /** Guest and user pairs made for `merge` (one merge each, warm-up included). */
  readonly mergePool: number;
  /** Better Auth sessions that `read` goes through in turn. */
  readonly baSessions: number;
  readonly scaleGuests: number;
  readonly pgScaleGuests: number;
  /** Guests the scale servers create and read while a million expired ones sit in the file. */
  readonly liveGuests: number;
  readonly purgeIntervalSeconds: number;
  readonly purgeReadRate: number;
  readonly merge1000Runs: number;
  /** Seconds of creates and of reads on the scale server before its RSS is read. */
  readonly scaleLoadSeconds: number;
  /** The whole run's limit: a hung child cannot keep the bench alive. */
  readonly runLimitMs: number;
}

export function settingsFor(options: { quick: boolean; profile: boolean }): Settings {
  if (options.quick) {
    return {
      quick: true,
      warmupSeconds: 0.5,
      seconds: 1.5,
      readPool: 200,
      mergePool: 500,
      baSessions: 50,
      scaleGuests: 10_000,
      pgScaleGuests: 10_000,
      liveGuests: 200,
      purgeIntervalSeconds: 2,
      purgeReadRate: 500,
      merge1000Runs: 2,
      scaleLoadSeconds: 1,
      runLimitMs: 600_000,
    };
  }
  return {
    quick: false,
    warmupSeconds: 3,
    seconds: 10,
    readPool: 5_000,
    // Under --profile the guests' creation is in the merge profile too: keep it small.
    mergePool: options.profile ? 4_000 : 16_000,
    baSessions: 1_000,
    scaleGuests: 1_000_000,
    pgScaleGuests: 200_000,
    liveGuests: 2_000,
    purgeIntervalSeconds: 8,
    purgeReadRate: 1_000,
    merge1000Runs: 5,
    scaleLoadSeconds: 5,
    runLimitMs: 1_800_000,
  };
}

/** A load job's hard time limit: generous, but a hung server cannot hang the bench. */
export const limitFor = (seconds: number) => Math.max(30_000, seconds * 4_000 + 20_000);
