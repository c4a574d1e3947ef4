// Every call the bench makes into Guestmode's engine and storage adapters in-process. They go
// through the release build (the code `guestmode serve` runs), imported by file URL; everything
// else reaches Guestmode over HTTP. Keeping them here makes a change of the engine's API a change
// of this file only.
import type { Release } from './release.js';

type CoreModule = typeof import('@guestmode/core');
type SqliteModule = typeof import('@guestmode/core/sqlite');
type PostgresModule = typeof import('@guestmode/core/postgres');
interface CredentialModule {
  generateCredential(now?: number): { guestId: string };
}

const load = <T>(release: Release, path: string) => import(release.coreModule(path)) as Promise<T>;

/** Creates the SQLite adapter's tables and indexes in the file at `path` (opens and closes it). */
export async function createSqliteSchema(release: Release, path: string): Promise<void> {
  const { openSqliteStorage } = await load<SqliteModule>(release, 'storage/sqlite/index.js');
  await (await openSqliteStorage({ database: path })).close();
}

/** Creates the PostgreSQL adapter's tables and indexes in the database at `url`. */
export async function createPostgresSchema(release: Release, url: string): Promise<void> {
  const { openPostgresStorage } = await load<PostgresModule>(release, 'storage/postgres/index.js');
  await (await openPostgresStorage({ database: url })).close();
}

/**
 * Milliseconds of one `stats()` call on the SQLite file at `path`: what `/metrics` and the
 * dashboard's sampler pay per call.
 */
export async function timeStats(release: Release, path: string): Promise<number> {
  const { openSqliteStorage } = await load<SqliteModule>(release, 'storage/sqlite/index.js');
  const { createGuestmode } = await load<CoreModule>(release, 'index.js');
  const engine = createGuestmode({ storage: await openSqliteStorage({ database: path }) });
  try {
    const started = performance.now();
    await engine.stats();
    return Math.round(performance.now() - started);
  } finally {
    await engine.close();
  }
}

/** The released core's guest id generator, for rows inserted straight into the database. */
export async function guestIdGenerator(release: Release): Promise<(createdAt: number) => string> {
  const { generateCredential } = await load<CredentialModule>(release, 'credential.js');
  return (createdAt) => generateCredential(createdAt).guestId;
}
