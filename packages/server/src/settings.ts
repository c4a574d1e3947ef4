/** One setting of `guestmode serve` and `guestmode purge`. */
export interface Setting {
  /** The environment variable. */
  readonly env: string;
  /** A more general variable read when `env` is unset (`DATABASE_URL`, as platforms set it). */
  readonly fallbackEnv?: string;
  /** The flag, without `--`. */
  readonly flag: string;
  readonly default: string;
  readonly help: string;
  /**
   * A secret: flags are visible to every user of the machine (`ps`) and kept in shell
   * history, so giving it as a flag works but prints a warning.
   */
  readonly secret?: boolean;
}

/**
 * Each setting: its environment variable, its flag, and its default. The table is also what
 * `guestmode serve --help` prints, so the two cannot drift apart.
 */
export const SETTINGS = [
  {
    env: 'GUESTMODE_DATABASE_URL',
    fallbackEnv: 'DATABASE_URL',
    flag: 'database-url',
    default: 'sqlite:./data/guestmode.db',
    help: 'sqlite:<path>, a file path, or postgres://user:pass@host/db',
    secret: true,
  },
  {
    env: 'GUESTMODE_OIDC_ISSUER',
    flag: 'oidc-issuer',
    default: '',
    help: 'OIDC issuer URL (discovery is read from it); unset = guest-only',
  },
  {
    env: 'GUESTMODE_OIDC_AUDIENCE',
    flag: 'oidc-audience',
    default: '',
    help: 'audience(s) access tokens must carry (aud), comma-separated',
  },
  {
    env: 'GUESTMODE_OIDC_JWKS_URI',
    flag: 'oidc-jwks-uri',
    default: '',
    help: "the provider's JWKS URL; unset = jwks_uri from discovery",
  },
  {
    env: 'GUESTMODE_OIDC_TOKEN_TYPE',
    flag: 'oidc-token-type',
    default: 'at+jwt',
    help: 'required typ header: at+jwt (Logto), JWT (Keycloak, Entra) or any',
  },
  {
    env: 'GUESTMODE_OIDC_REQUIRED_SCOPES',
    flag: 'oidc-required-scopes',
    default: '',
    help: 'scopes every access token must carry (scope or scp), comma-separated',
  },
  {
    env: 'GUESTMODE_OIDC_ALGORITHMS',
    flag: 'oidc-algorithms',
    default: '',
    help: 'allowed signing algorithms, comma-separated; unset = every asymmetric one',
  },
  {
    env: 'GUESTMODE_OIDC_ALLOW_CLIENTS',
    flag: 'oidc-allow-clients',
    default: '',
    help: 'client ids whose machine-to-machine tokens may act as users (comma-separated)',
  },
  {
    env: 'GUESTMODE_PUBLIC_URL',
    flag: 'public-url',
    default: '',
    help: "the service's public origin; browser guest creations must come from it",
  },
  {
    env: 'GUESTMODE_ADMIN_TOKEN',
    flag: 'admin-token',
    default: '',
    help: 'secret (16+ characters) that opens /, /v1/stats and /metrics; unset = not served',
    secret: true,
  },
  {
    env: 'GUESTMODE_GUEST_TTL',
    flag: 'guest-ttl',
    default: '30d',
    help: 'guest lifetime: 30d, 12h, 90m (at least 1m)',
  },
  {
    env: 'GUESTMODE_MERGE_RULES',
    flag: 'merge-rules',
    default: '',
    help: 'rules as JSON {"cart":"sum-by-key",...}, or the path of a JSON file',
  },
  { env: 'HOST', flag: 'host', default: '127.0.0.1', help: 'address to listen on' },
  { env: 'PORT', flag: 'port', default: '4000', help: 'port to listen on' },
  {
    env: 'GUESTMODE_RATE_LIMIT',
    flag: 'rate-limit',
    default: '60/1m',
    help: 'guest creations per client address: <count>/<window>, or off',
  },
  {
    env: 'GUESTMODE_BODY_LIMIT',
    flag: 'body-limit',
    default: '1048576',
    help: 'largest request body in bytes',
  },
  {
    env: 'GUESTMODE_PURGE_INTERVAL',
    flag: 'purge-interval',
    default: '1h',
    help: 'how often expired guests are deleted, or off',
  },
  {
    env: 'GUESTMODE_TRUST_PROXY',
    flag: 'trust-proxy',
    default: 'false',
    help: 'believe X-Forwarded-* from: false, a hop count (1, 2), or proxy addresses/CIDRs',
  },
  {
    env: 'GUESTMODE_DASHBOARD',
    flag: 'dashboard',
    default: 'on',
    help: 'serve the dashboard at / and /v1/stats: on or off',
  },
  {
    env: 'GUESTMODE_STATS_INTERVAL',
    flag: 'stats-interval',
    default: '10s',
    help: 'dashboard sampling interval',
  },
  {
    env: 'GUESTMODE_WEBHOOK_URL',
    flag: 'webhook-url',
    default: '',
    help: 'endpoint that receives the lifecycle events (signed POSTs); unset = none',
  },
  {
    env: 'GUESTMODE_WEBHOOK_SECRET',
    flag: 'webhook-secret',
    default: '',
    help: 'whsec_<base64> signing secret of GUESTMODE_WEBHOOK_URL (rotation: comma-separated)',
    secret: true,
  },
  {
    env: 'GUESTMODE_WEBHOOKS_FILE',
    flag: 'webhooks-file',
    default: '',
    help: 'JSON file of endpoints [{"url","secret","events":[...]}] (keep it private)',
  },
  {
    env: 'GUESTMODE_WEBHOOK_PRIVATE_NETWORKS',
    flag: 'webhook-private-networks',
    default: 'off',
    help: 'deliver to loopback and private addresses: on or off',
  },
  {
    env: 'GUESTMODE_WEBHOOK_POLL_INTERVAL',
    flag: 'webhook-poll-interval',
    default: '2s',
    help: 'how often the outbox is checked for events other instances wrote',
  },
  {
    env: 'GUESTMODE_WEBHOOK_RETRY_DELAY',
    flag: 'webhook-retry-delay',
    default: '5s',
    help: 'first retry delay, doubled per attempt up to 1h, with jitter',
  },
  {
    env: 'GUESTMODE_WEBHOOK_GIVE_UP',
    flag: 'webhook-give-up',
    default: '3d',
    help: 'after this long an undeliverable event is dead',
  },
  {
    env: 'GUESTMODE_LOG_LEVEL',
    flag: 'log-level',
    default: 'info',
    help: 'fatal, error, warn, info, debug, trace or silent',
  },
] as const satisfies readonly Setting[];

/** The environment variable that names a setting. */
export type SettingEnv = (typeof SETTINGS)[number]['env'];

/** The lines `--help` prints for `settings`: flag and environment variable(s), then meaning and default. */
export function describeSettings(settings: readonly Setting[]): string {
  return settings
    .map((s) => {
      const env = s.fallbackEnv ? `${s.env}, then ${s.fallbackEnv}` : s.env;
      const shown = s.default ? ` (default ${s.default})` : '';
      return `  --${s.flag}  [${env}]\n      ${s.help}${shown}`;
    })
    .join('\n');
}
