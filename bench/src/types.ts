// Shapes of the bench's results (bench/results/*.json).
import type { LoadResult } from './load.js';

/** A row count check: what the run should have changed, and what it did. */
export interface RowCheck {
  readonly passed: boolean;
  /** e.g. "guests +15230 (2xx 15230), attributes +15230". */
  readonly detail: string;
}

/** One load scenario's line of the table. */
export interface ScenarioResult {
  readonly system: 'ceiling' | 'machine' | 'guestmode' | 'better-auth';
  readonly db: 'sqlite' | 'postgres' | '-';
  readonly scenario: string;
  readonly request: string;
  readonly connections: number;
  readonly load: LoadResult;
  readonly bytesPerResponse: number;
  readonly rows: RowCheck;
  readonly error?: string;
}

export interface Target {
  readonly what: string;
  readonly value: string;
  readonly target: string;
  /** `undefined` when the run cannot judge it (quick mode, a failed scenario). */
  readonly met: boolean | undefined;
}

export interface ScaleResult {
  guests?: number;
  insertSeconds?: number;
  sqliteBytesPerGuest?: number;
  postgresBytesPerGuest?: number;
  postgresGuests?: number;
  rssAfterStart?: number;
  rssAfterLoad?: number;
  peakRss?: number;
  statsMs?: number;
  purgeSeconds?: number;
  purged?: number;
  readP99Idle?: number;
  readP99DuringPurge?: number;
  readP50Idle?: number;
  readP50DuringPurge?: number;
  readSamplesIdle?: number;
  readSamplesDuringPurge?: number;
  readRate?: number;
  merge1000Ms?: number[];
  merge1000Lines?: number;
  error?: string;
  rows?: RowCheck;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly quick: boolean;
  readonly machine: Record<string, string | number>;
  readonly settings: Record<string, string | number | boolean>;
  readonly scenarios: ScenarioResult[];
  readonly scale: ScaleResult;
  readonly targets: Target[];
  readonly allRowChecksPassed: boolean;
}
