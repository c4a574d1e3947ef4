// What the provider's database file gives away when someone can read it: nothing in clear that
// authenticates (application secrets are hashed), and nobody but its owner can read it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { createIdp, type Idp, MANAGEMENT_RESOURCE } from '../src/index.js';

// The driver this Node.js can load (better-sqlite3 13 segfaults on Node 20).
const { Database } = loadSqliteDriver();

async function clientCredentials(
  idp: Idp,
  appId: string,
  secret: string,
  method: 'basic' | 'post',
): Promise<number> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    resource: MANAGEMENT_RESOURCE,
    scope: 'all',
  });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (method === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${appId}:${secret}`).toString('base64')}`;
  } else {
    body.set('client_id', appId);
    body.set('client_secret', secret);
  }
  const res = await fetch(`${idp.issuer}/token`, { method: 'POST', headers, body });
  await res.arrayBuffer();
  return res.status;
}

describe('the provider database at rest', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gm-idp-rest-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const open = (file: string) =>
    createIdp({ endpoint: 'http://127.0.0.1', port: 0, database: file, env: {}, warn: () => {} });

  it('is created readable by its owner only, with its -wal and -shm files', async () => {
    const file = join(dir, 'mode.db');
    const umask = process.umask(0o022);
    const idp = open(file);
    try {
      await idp.listen();
      await idp.createM2MApplication({ name: 'Writer' });
      for (const path of [file, `${file}-wal`, `${file}-shm`]) {
        assert.equal(statSync(path).mode & 0o777, 0o600, path);
      }
    } finally {
      await idp.close();
      process.umask(umask);
    }
  });

  it('keeps only a hash of application secrets, and client_secret_basic/post still work', async () => {
    const file = join(dir, 'hash.db');
    const idp = open(file);
    try {
      await idp.listen();
      const { appId, appSecret } = await idp.createM2MApplication({ name: 'Admin' });
      const row = (await idp.store.findApplication(appId))!;
      assert.notEqual(row.secret, appSecret);
      assert.ok(!row.secret.includes(appSecret));
      assert.match(row.secret, /^sha256:[A-Za-z0-9_-]{43}$/);
      assert.equal(await clientCredentials(idp, appId, appSecret, 'basic'), 200);
      assert.equal(await clientCredentials(idp, appId, appSecret, 'post'), 200);
      // The stored hash is not a secret that works, nor is a wrong one.
      assert.equal(await clientCredentials(idp, appId, row.secret, 'basic'), 401);
      assert.equal(await clientCredentials(idp, appId, `${appSecret}x`, 'post'), 401);
    } finally {
      await idp.close();
    }
  });

  it('hashes the clear secrets of a database from an earlier version', async () => {
    const file = join(dir, 'legacy.db');
    let appId: string;
    const first = open(file);
    try {
      await first.listen();
      ({ appId } = await first.createM2MApplication({ name: 'Old' }));
    } finally {
      await first.close();
    }
    // What an earlier version left: the secret in clear, and only the first migration applied.
    const legacySecret = 'legacy-secret-in-clear-0123456789abcdef';
    const db = new Database(file);
    db.prepare('UPDATE applications SET secret = ? WHERE id = ?').run(legacySecret, appId);
    db.prepare('DELETE FROM schema_migrations WHERE version > 1').run();
    // Later migrations add columns; a version-1 database does not have them.
    db.exec('ALTER TABLE social_sessions DROP COLUMN authorization_url');
    db.close();

    const idp = open(file);
    try {
      await idp.listen();
      const row = (await idp.store.findApplication(appId))!;
      assert.match(row.secret, /^sha256:/);
      assert.equal(await clientCredentials(idp, appId, legacySecret, 'basic'), 200);
    } finally {
      await idp.close();
    }
  });
});
