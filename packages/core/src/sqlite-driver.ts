/**
 * Picks the `better-sqlite3` build that is safe on the running Node.js. No single major version
 * runs everywhere: 12 aborts the process on Node.js 24.19 and later (its statement finaliser
 * touches the environment outside a V8 context during an idle garbage collection), and 13, the
 * Node-API build, crashes on Node.js 20. A program therefore installs 13 as `better-sqlite3`
 * and 12 under the alias `better-sqlite3-node20` (an optional dependency); a library user
 * installs whichever matches their Node.js. Every Guestmode package opens SQLite through this
 * module, so the choice is made in one place and a wrong driver stops with a message that says
 * what to install, instead of a crash later.
 *
 * @example
 * ```ts
 * import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
 *
 * const { Database } = loadSqliteDriver();
 * const db = new Database('app.db');
 * ```
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * `createRequire`, taken at run time. A bundler that compiles this file (webpack, in an app that
 * transpiles the package) rewrites a statically imported `createRequire` and every `require` it
 * can see, which would leave the driver unresolved; the built-in module fetched through
 * `process` is invisible to it. Node.js 20 releases before 20.16 lack `getBuiltinModule`.
 */
function requireFrom(base: string | URL): NodeJS.Require {
  const builtin = process.getBuiltinModule?.('node:module');
  return (builtin ?? nodeModule).createRequire(base);
}

/** The package names looked up, in this order: the current driver, then the Node.js 20 alias. */
export const SQLITE_DRIVER_PACKAGES = ['better-sqlite3', 'better-sqlite3-node20'] as const;

/** The install command that fixes a missing or unsuitable driver on the running Node.js. */
const INSTALL_CURRENT = 'npm install better-sqlite3@^13.2.0';
const INSTALL_NODE20 = 'npm install better-sqlite3-node20@npm:better-sqlite3@^12.11.1';

/** An installed driver package: its name under node_modules and its version. */
export interface SqliteDriverCandidate {
  readonly name: string;
  readonly version: string;
}

/** The driver in use. */
export interface SqliteDriver {
  /** The `better-sqlite3` Database class. */
  readonly Database: typeof BetterSqlite3;
  /** The package name it was loaded from (`better-sqlite3` or `better-sqlite3-node20`). */
  readonly name: string;
  /** Its version, e.g. `13.2.0`. */
  readonly version: string;
  /** The resolved module file, for code that loads it elsewhere (a worker thread). */
  readonly path: string;
}

function major(version: string): number {
  const value = Number.parseInt(version.replace(/^v/, ''), 10);
  return Number.isNaN(value) ? 0 : value;
}

function minor(version: string): number {
  const value = Number.parseInt(version.replace(/^v/, '').split('.')[1] ?? '', 10);
  return Number.isNaN(value) ? 0 : value;
}

/** Node.js 24.19 and later abort under `better-sqlite3` 12 and earlier. */
function legacyDriverAborts(nodeVersion: string): boolean {
  const node = major(nodeVersion);
  return node > 24 || (node === 24 && minor(nodeVersion) >= 19);
}

/**
 * Decides which installed driver to load on `nodeVersion` (as `process.version`), or explains
 * why none is usable. Pure, so every Node.js and driver combination can be tested anywhere.
 *
 * - Node.js 20: a driver of major version 12 or lower (13 crashes there).
 * - Node.js 22 and later: 13 or later when installed; 12 only before Node.js 24.19.
 */
export function chooseSqliteDriver(
  nodeVersion: string,
  candidates: readonly SqliteDriverCandidate[],
): { readonly name: string } | { readonly error: string } {
  const node = major(nodeVersion);
  const current = candidates.find((candidate) => major(candidate.version) >= 13);
  const legacy = candidates.find((candidate) => major(candidate.version) <= 12);
  if (node < 22) {
    if (legacy) return { name: legacy.name };
    if (current) {
      return {
        error: `better-sqlite3 ${current.version} does not run on Node.js ${nodeVersion}. Install the Node.js 20 build beside it (${INSTALL_NODE20}) or use Node.js 22 or later.`,
      };
    }
    return { error: `No SQLite driver is installed. Run: ${INSTALL_NODE20}` };
  }
  if (current) return { name: current.name };
  if (legacy && !legacyDriverAborts(nodeVersion)) return { name: legacy.name };
  if (legacy) {
    return {
      error: `better-sqlite3 ${legacy.version} aborts the process on Node.js ${nodeVersion} (24.19 and later). Run: ${INSTALL_CURRENT}`,
    };
  }
  return { error: `No SQLite driver is installed. Run: ${INSTALL_CURRENT}` };
}

/** The driver packages installed where `base` (a file URL or path) resolves its imports. */
export function findSqliteDrivers(base: string | URL = import.meta.url): SqliteDriverCandidate[] {
  const resolver = requireFrom(base);
  const found: SqliteDriverCandidate[] = [];
  for (const name of SQLITE_DRIVER_PACKAGES) {
    let manifest: string;
    try {
      manifest = resolver.resolve(`${name}/package.json`);
    } catch {
      continue;
    }
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown };
    if (typeof version === 'string') found.push({ name, version });
  }
  return found;
}

let loaded: SqliteDriver | undefined;

/**
 * Loads the `better-sqlite3` build that is safe on this Node.js (see
 * {@link chooseSqliteDriver}); the result is remembered. Throws an `Error` that names the
 * package to install when no suitable driver is present; an unsuitable one is never loaded.
 */
export function loadSqliteDriver(): SqliteDriver {
  if (loaded) return loaded;
  const candidates = findSqliteDrivers();
  const choice = chooseSqliteDriver(process.version, candidates);
  if ('error' in choice) throw new Error(choice.error);
  const load = requireFrom(import.meta.url);
  const path = load.resolve(choice.name);
  const Database = load(path) as typeof BetterSqlite3;
  const version = candidates.find((driver) => driver.name === choice.name)?.version ?? '';
  loaded = Object.freeze({ Database, name: choice.name, version, path });
  return loaded;
}
