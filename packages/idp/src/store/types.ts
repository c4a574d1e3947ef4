/**
 * The storage contract. Shaped by the operations the provider performs, so a PostgreSQL
 * implementation only has to answer these calls; every method is async even though SQLite is
 * synchronous for that reason.
 */

/** `traditional` is a web app signing users in; `m2m` uses client credentials (management API). */
export type ApplicationType = 'traditional' | 'm2m';

export interface ApplicationRow {
  id: string;
  name: string;
  /**
   * The SHA-256 of the client secret (`sha256:<base64url>`), never the secret: the provider
   * compares a presented secret by hashing it (`client_secret_basic`/`_post`; nothing here uses
   * the secret as a key, so `client_secret_jwt` and HS* algorithms are not offered).
   */
  secret: string;
  type: ApplicationType;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  createdAt: number;
}

export interface ResourceRow {
  indicator: string;
  name: string;
  scopes: string[];
  /** Access token lifetime in seconds. */
  accessTokenTtl: number;
  createdAt: number;
}

export interface UserRow {
  id: string;
  username: string | null;
  passwordHash: string | null;
  name: string | null;
  email: string | null;
  avatar: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface IdentityRow {
  userId: string;
  /** The connector's target (IdP name), unique per connector. */
  target: string;
  /** The user's id at the social provider. */
  identityId: string;
  details: Record<string, unknown>;
  /** Sealed token box from the vault; never plaintext. */
  tokens: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface ConnectorRow {
  id: string;
  target: string;
  /** The connector record as JSON (its config may hold the upstream client secret). */
  record: unknown;
  createdAt: number;
}

export type KeyKind = 'signing' | 'cookie';

export interface KeyRow {
  kid: string;
  kind: KeyKind;
  /** A private JWK (signing) or a random secret (cookie), as JSON text. */
  material: string;
  createdAt: number;
}

/** A social authorization in flight, bound to its `state` and, for sign-in, an interaction. */
export interface SocialSessionRow {
  id: string;
  connectorId: string;
  mode: 'sign-in' | 'link';
  interactionUid: string | null;
  userId: string | null;
  returnTo: string | null;
  session: Record<string, unknown>;
  result: Record<string, unknown> | null;
  expiresAt: number;
  /** The upstream URL, kept for flows whose browser arrives at the provider first (linking). */
  authorizationUrl?: string | null;
}

/** What {@link Store.unlinkIdentity} did. */
export type UnlinkOutcome = 'deleted' | 'no_user' | 'no_identity' | 'last';

/** An oidc-provider model row; `payload` is opaque to the store. */
export interface ModelRow {
  payload: Record<string, unknown>;
  consumedAt: number | null;
}

export interface ModelWrite {
  payload: Record<string, unknown>;
  /** Epoch milliseconds, or null for rows that never expire. */
  expiresAt: number | null;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
}

export interface Store {
  insertApplication(row: ApplicationRow): Promise<void>;
  findApplication(id: string): Promise<ApplicationRow | undefined>;
  /** The earliest registered application of a type, if any. */
  firstApplication(type: ApplicationType): Promise<ApplicationRow | undefined>;

  insertResource(row: ResourceRow): Promise<void>;
  findResource(indicator: string): Promise<ResourceRow | undefined>;

  insertUser(row: UserRow, identity?: IdentityRow): Promise<void>;
  findUser(id: string): Promise<UserRow | undefined>;
  findUserByUsername(username: string): Promise<UserRow | undefined>;
  /** Users with this email, oldest first, at most `limit` (emails are not unique). */
  findUsersByEmail(email: string, limit: number): Promise<UserRow[]>;
  updateUserProfile(
    id: string,
    patch: Partial<Pick<UserRow, 'name' | 'email' | 'avatar'>>,
    now: number,
  ): Promise<void>;
  listUsers(options: {
    limit: number;
    offset: number;
  }): Promise<{ users: UserRow[]; total: number }>;

  findIdentity(target: string, identityId: string): Promise<IdentityRow | undefined>;
  listIdentities(userId: string): Promise<IdentityRow[]>;
  /** Inserts or replaces the user's identity for `target`. */
  upsertIdentity(row: IdentityRow): Promise<void>;
  deleteIdentity(userId: string, target: string): Promise<boolean>;
  /**
   * Deletes the user's identity for `target` in one transaction with the check that, when
   * `keepLast`, it is not the user's last way to sign in (no password, no other identity).
   */
  unlinkIdentity(
    userId: string,
    target: string,
    options: { keepLast: boolean },
  ): Promise<UnlinkOutcome>;

  insertConnector(row: ConnectorRow): Promise<void>;
  listConnectors(): Promise<ConnectorRow[]>;

  listKeys(kind: KeyKind): Promise<KeyRow[]>;
  insertKey(row: KeyRow): Promise<void>;

  insertSocialSession(row: SocialSessionRow): Promise<void>;
  findSocialSession(id: string, now: number): Promise<SocialSessionRow | undefined>;
  setSocialSessionResult(id: string, result: Record<string, unknown>): Promise<void>;
  deleteSocialSession(id: string): Promise<void>;

  modelUpsert(model: string, id: string, write: ModelWrite): Promise<void>;
  modelFind(model: string, id: string, now: number): Promise<ModelRow | undefined>;
  modelFindByUid(
    model: string,
    uid: string,
    now: number,
  ): Promise<(ModelRow & { id: string }) | undefined>;
  modelFindByUserCode(model: string, userCode: string, now: number): Promise<ModelRow | undefined>;
  modelConsume(model: string, id: string, now: number): Promise<void>;
  modelDestroy(model: string, id: string): Promise<void>;
  modelRevokeByGrantId(grantId: string): Promise<void>;

  /** Deletes expired oidc-provider rows and social sessions; returns how many went. */
  deleteExpired(now: number): Promise<number>;
  close(): Promise<void>;
}
