/**
 * The provider database's schema as Guestmode migration steps, kept apart from the statements
 * that use it so a schema change reads as one list.
 */

/** The SQL function that hashes an application secret, for the migration that hashes old rows. */
export const SECRET_HASH_FUNCTION = 'guestmode_hash_application_secret';

/**
 * The schema, one step per version, run by Guestmode's migration runner (which records them in
 * `schema_migrations` and refuses a database migrated by a newer release). Never edit a shipped
 * entry: append a new one, so existing databases move forward.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('traditional', 'm2m')),
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE resources (
    indicator TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    access_token_ttl INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT COLLATE NOCASE UNIQUE,
    password_hash TEXT,
    name TEXT,
    email TEXT,
    avatar TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE user_identities (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    details TEXT NOT NULL,
    tokens TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, target),
    UNIQUE (target, identity_id)
  );
  CREATE TABLE connectors (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE keys (
    kid TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('signing', 'cookie')),
    material TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE social_sessions (
    id TEXT PRIMARY KEY,
    connector_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    interaction_uid TEXT,
    user_id TEXT,
    return_to TEXT,
    session TEXT NOT NULL,
    result TEXT,
    expires_at INTEGER NOT NULL
  );
  CREATE TABLE oidc_models (
    model TEXT NOT NULL,
    id TEXT NOT NULL,
    payload TEXT NOT NULL,
    expires_at INTEGER,
    consumed_at INTEGER,
    grant_id TEXT,
    user_code TEXT,
    uid TEXT,
    PRIMARY KEY (model, id)
  );
  CREATE INDEX oidc_models_grant_id ON oidc_models (grant_id) WHERE grant_id IS NOT NULL;
  CREATE INDEX oidc_models_uid ON oidc_models (model, uid) WHERE uid IS NOT NULL;
  CREATE INDEX oidc_models_user_code ON oidc_models (model, user_code) WHERE user_code IS NOT NULL;
  CREATE INDEX oidc_models_expires_at ON oidc_models (expires_at) WHERE expires_at IS NOT NULL;
  `,
  // Application secrets are kept as their SHA-256 only (client-secret.ts); rows written in clear
  // by earlier versions are hashed in place. The function is registered on the connection.
  `
  UPDATE applications SET secret = ${SECRET_HASH_FUNCTION}(secret) WHERE secret NOT LIKE 'sha256:%';
  `,
  // Account linking starts on a provider page (which binds the browser) before the upstream.
  'ALTER TABLE social_sessions ADD COLUMN authorization_url TEXT',
];
