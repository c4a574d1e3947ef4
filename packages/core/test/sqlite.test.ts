import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { runStorageConformance } from '@guestmode/core/conformance';
import { openSqliteStorage } from '@guestmode/core/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'gm-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A real file (WAL needs one), not :memory:, so the adapter runs as it does in production.
runStorageConformance('sqlite', () => openSqliteStorage({ database: join(dir, 'guestmode.db') }));
