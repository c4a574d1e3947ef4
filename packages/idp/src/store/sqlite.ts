import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrateSqlite } from '@guestmode/core/migrations';
import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import { hashApplicationSecret } from '../client-secret.js';
import {
  conflictOnUnique,
  json,
  nullableString,
  type Row,
  toApplication,
  toIdentity,
  toModel,
  toUser,
} from './sqlite-rows.js';
import { MIGRATIONS, SECRET_HASH_FUNCTION } from './sqlite-schema.js';
import type {
  ConnectorRow,
  IdentityRow,
  KeyKind,
  KeyRow,
  ModelWrite,
  SocialSessionRow,
  Store,
  UnlinkOutcome,
} from './types.js';

/**
 * Opens (creating if needed) a SQLite database and brings its schema up to date.
 *
 * @param path A file path, or `:memory:` for a throw-away database (tests).
 */
export function openSqliteStore(path: string): Store {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true });
    restrictToOwner(path);
  }
  const db = new (loadSqliteDriver().Database)(path);
  db.function(SECRET_HASH_FUNCTION, { deterministic: true }, (secret) =>
    hashApplicationSecret(String(secret)),
  );
  // WAL lets the CLI write (create an app) while a running provider reads.
  db.pragma('journal_mode = WAL');
  // SQLite creates the -wal and -shm files with the database file's mode; older files (from a
  // version that did not restrict them) are tightened here.
  if (path !== ':memory:') restrictToOwner(path);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  try {
    migrateSqlite(db, MIGRATIONS, { table: 'schema_migrations' });
  } catch (error) {
    // A database this code cannot use (a newer schema, not a database) keeps no handle open.
    db.close();
    throw error;
  }

  const stmt = (sql: string) => db.prepare(sql);
  /** An unexpired oidc-provider model found by one of its indexed columns. */
  const liveModel = (
    column: 'id' | 'uid' | 'user_code',
    model: string,
    value: string,
    now: number,
  ) =>
    stmt(
      `SELECT * FROM oidc_models WHERE model = ? AND ${column} = ? AND (expires_at IS NULL OR expires_at > ?)`,
    ).get(model, value, now) as Row | undefined;
  const insertUser = stmt(
    `INSERT INTO users (id, username, password_hash, name, email, avatar, created_at, updated_at)
     VALUES (@id, @username, @passwordHash, @name, @email, @avatar, @createdAt, @updatedAt)`,
  );
  const upsertIdentity = stmt(
    `INSERT INTO user_identities (user_id, target, identity_id, details, tokens, created_at, updated_at)
     VALUES (@userId, @target, @identityId, @details, @tokens, @createdAt, @updatedAt)
     ON CONFLICT (user_id, target) DO UPDATE SET identity_id = excluded.identity_id,
       details = excluded.details, tokens = excluded.tokens, updated_at = excluded.updated_at`,
  );
  const identityParams = (row: IdentityRow) => ({ ...row, details: JSON.stringify(row.details) });

  return {
    async insertApplication(row) {
      conflictOnUnique('application', () =>
        stmt(
          `INSERT INTO applications (id, name, secret, type, redirect_uris, post_logout_redirect_uris, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          row.id,
          row.name,
          row.secret,
          row.type,
          JSON.stringify(row.redirectUris),
          JSON.stringify(row.postLogoutRedirectUris),
          row.createdAt,
        ),
      );
    },
    async findApplication(id) {
      const row = stmt('SELECT * FROM applications WHERE id = ?').get(id) as Row | undefined;
      return row && toApplication(row);
    },
    async firstApplication(type) {
      const row = stmt(
        'SELECT * FROM applications WHERE type = ? ORDER BY created_at, id LIMIT 1',
      ).get(type) as Row | undefined;
      return row && toApplication(row);
    },

    async insertResource(row) {
      conflictOnUnique(`resource ${row.indicator}`, () =>
        stmt(
          'INSERT INTO resources (indicator, name, scopes, access_token_ttl, created_at) VALUES (?, ?, ?, ?, ?)',
        ).run(
          row.indicator,
          row.name,
          JSON.stringify(row.scopes),
          row.accessTokenTtl,
          row.createdAt,
        ),
      );
    },
    async findResource(indicator) {
      const row = stmt('SELECT * FROM resources WHERE indicator = ?').get(indicator) as
        | Row
        | undefined;
      return (
        row && {
          indicator: String(row.indicator),
          name: String(row.name),
          scopes: json(row.scopes),
          accessTokenTtl: Number(row.access_token_ttl),
          createdAt: Number(row.created_at),
        }
      );
    },

    async insertUser(row, identity) {
      conflictOnUnique(
        'user',
        db.transaction(() => {
          insertUser.run(row);
          if (identity) upsertIdentity.run(identityParams(identity));
        }),
      );
    },
    async findUser(id) {
      const row = stmt('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
      return row && toUser(row);
    },
    async findUserByUsername(username) {
      const row = stmt('SELECT * FROM users WHERE username = ?').get(username) as Row | undefined;
      return row && toUser(row);
    },
    async findUsersByEmail(email, limit) {
      const rows = stmt('SELECT * FROM users WHERE email = ? ORDER BY created_at, id LIMIT ?').all(
        email,
        limit,
      ) as Row[];
      return rows.map(toUser);
    },
    async updateUserProfile(id, patch, now) {
      const fields = (['name', 'email', 'avatar'] as const).filter((key) => key in patch);
      if (fields.length === 0) return;
      const sets = fields.map((key) => `${key} = @${key}`).join(', ');
      stmt(`UPDATE users SET ${sets}, updated_at = @now WHERE id = @id`).run({
        ...patch,
        id,
        now,
      });
    },
    async listUsers({ limit, offset }) {
      const rows = stmt('SELECT * FROM users ORDER BY created_at, id LIMIT ? OFFSET ?').all(
        limit,
        offset,
      ) as Row[];
      const { total } = stmt('SELECT count(*) AS total FROM users').get() as { total: number };
      return { users: rows.map(toUser), total };
    },

    async findIdentity(target, identityId) {
      const row = stmt('SELECT * FROM user_identities WHERE target = ? AND identity_id = ?').get(
        target,
        identityId,
      ) as Row | undefined;
      return row && toIdentity(row);
    },
    async listIdentities(userId) {
      return (
        stmt('SELECT * FROM user_identities WHERE user_id = ? ORDER BY target').all(userId) as Row[]
      ).map(toIdentity);
    },
    async upsertIdentity(row) {
      conflictOnUnique('identity', () => upsertIdentity.run(identityParams(row)));
    },
    async deleteIdentity(userId, target) {
      return (
        stmt('DELETE FROM user_identities WHERE user_id = ? AND target = ?').run(userId, target)
          .changes > 0
      );
    },
    async unlinkIdentity(userId, target, { keepLast }) {
      // One transaction: the "is it the last way in" check and the delete cannot interleave
      // with another unlink of the same user.
      return db
        .transaction((): UnlinkOutcome => {
          const user = stmt('SELECT password_hash FROM users WHERE id = ?').get(userId) as
            | Row
            | undefined;
          if (!user) return 'no_user';
          const targets = (
            stmt('SELECT target FROM user_identities WHERE user_id = ?').all(userId) as Row[]
          ).map((row) => String(row.target));
          if (!targets.includes(target)) return 'no_identity';
          if (keepLast && user.password_hash == null && targets.length <= 1) return 'last';
          stmt('DELETE FROM user_identities WHERE user_id = ? AND target = ?').run(userId, target);
          return 'deleted';
        })
        .immediate();
    },

    async insertConnector(row) {
      conflictOnUnique(`connector ${row.id} or target ${row.target}`, () =>
        stmt('INSERT INTO connectors (id, target, record, created_at) VALUES (?, ?, ?, ?)').run(
          row.id,
          row.target,
          JSON.stringify(row.record),
          row.createdAt,
        ),
      );
    },
    async listConnectors() {
      return (stmt('SELECT * FROM connectors ORDER BY created_at, id').all() as Row[]).map(
        (row): ConnectorRow => ({
          id: String(row.id),
          target: String(row.target),
          record: json(row.record),
          createdAt: Number(row.created_at),
        }),
      );
    },

    async listKeys(kind: KeyKind) {
      return (
        stmt('SELECT * FROM keys WHERE kind = ? ORDER BY created_at DESC, kid').all(kind) as Row[]
      ).map(
        (row): KeyRow => ({
          kid: String(row.kid),
          kind: row.kind as KeyKind,
          material: String(row.material),
          createdAt: Number(row.created_at),
        }),
      );
    },
    async insertKey(row) {
      stmt('INSERT INTO keys (kid, kind, material, created_at) VALUES (?, ?, ?, ?)').run(
        row.kid,
        row.kind,
        row.material,
        row.createdAt,
      );
    },

    async insertSocialSession(row) {
      stmt(
        `INSERT INTO social_sessions (id, connector_id, mode, interaction_uid, user_id, return_to, session, result, expires_at, authorization_url)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        row.id,
        row.connectorId,
        row.mode,
        row.interactionUid,
        row.userId,
        row.returnTo,
        JSON.stringify(row.session),
        row.result && JSON.stringify(row.result),
        row.expiresAt,
        row.authorizationUrl ?? null,
      );
    },
    async findSocialSession(id, now) {
      const row = stmt('SELECT * FROM social_sessions WHERE id = ? AND expires_at > ?').get(
        id,
        now,
      ) as Row | undefined;
      return (
        row && {
          id: String(row.id),
          connectorId: String(row.connector_id),
          mode: row.mode as SocialSessionRow['mode'],
          interactionUid: nullableString(row.interaction_uid),
          userId: nullableString(row.user_id),
          returnTo: nullableString(row.return_to),
          session: json(row.session),
          result: row.result == null ? null : json(row.result),
          expiresAt: Number(row.expires_at),
          authorizationUrl: nullableString(row.authorization_url),
        }
      );
    },
    async setSocialSessionResult(id, result) {
      stmt('UPDATE social_sessions SET result = ? WHERE id = ?').run(JSON.stringify(result), id);
    },
    async deleteSocialSession(id) {
      stmt('DELETE FROM social_sessions WHERE id = ?').run(id);
    },

    async modelUpsert(model, id, write: ModelWrite) {
      stmt(
        `INSERT INTO oidc_models (model, id, payload, expires_at, grant_id, user_code, uid)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload,
           expires_at = excluded.expires_at, grant_id = excluded.grant_id,
           user_code = excluded.user_code, uid = excluded.uid`,
      ).run(
        model,
        id,
        JSON.stringify(write.payload),
        write.expiresAt,
        write.grantId,
        write.userCode,
        write.uid,
      );
    },
    async modelFind(model, id, now) {
      const row = liveModel('id', model, id, now);
      return row && toModel(row);
    },
    async modelFindByUid(model, uid, now) {
      const row = liveModel('uid', model, uid, now);
      return row && { ...toModel(row), id: String(row.id) };
    },
    async modelFindByUserCode(model, userCode, now) {
      const row = liveModel('user_code', model, userCode, now);
      return row && toModel(row);
    },
    async modelConsume(model, id, now) {
      stmt('UPDATE oidc_models SET consumed_at = ? WHERE model = ? AND id = ?').run(now, model, id);
    },
    async modelDestroy(model, id) {
      stmt('DELETE FROM oidc_models WHERE model = ? AND id = ?').run(model, id);
    },
    async modelRevokeByGrantId(grantId) {
      stmt('DELETE FROM oidc_models WHERE grant_id = ?').run(grantId);
    },

    async deleteExpired(now) {
      const models = stmt('DELETE FROM oidc_models WHERE expires_at <= ?').run(now).changes;
      const social = stmt('DELETE FROM social_sessions WHERE expires_at <= ?').run(now).changes;
      return models + social;
    },
    async close() {
      if (db.open) db.close();
    },
  };
}

/**
 * The database holds the signing key, cookie keys, hashed application secrets and connector
 * secrets: it is created readable by its owner only (0600), whatever the umask, and an existing
 * file and its -wal/-shm companions are brought down to that mode.
 */
function restrictToOwner(path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
}
