/**
 * The JSON Schemas of every response body, used twice: by Fastify to serialise responses
 * (fast-json-stringify is faster than JSON.stringify and drops fields nobody documented) and
 * in the OpenAPI 3.1 document served at `/openapi.json`. One definition, so the document
 * cannot drift from what the service sends; a test validates every body it sees against it.
 */

/** Every `error.code` the service answers with. */
export const ERROR_CODES = [
  'invalid_request',
  'invalid_access_token',
  'invalid_guest_credential',
  'guest_expired',
  'guest_merged',
  'guest_already_merged',
  'invalid_attribute_name',
  'invalid_attribute_value',
  'attribute_too_large',
  'profile_too_large',
  'too_many_attributes',
  'merge_rule_failed',
  'storage_unavailable',
  'provider_unavailable',
  'credential_required',
  'attribute_not_found',
  'cross_site_request',
  'not_found',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'internal_error',
] as const;

const guestId = { type: 'string', description: 'The guest id (public; not a credential).' };
const token = {
  type: 'string',
  pattern: '^gm_[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}$',
  description: 'The guest credential. Shown once; send it as `Authorization: Bearer`.',
};
const timestamp = { type: 'string', format: 'date-time' };
const anyJson = { description: 'Any JSON value.' };
const attributes = {
  type: 'object',
  additionalProperties: anyJson,
  description: 'Attribute name to JSON value.',
};

export const ErrorSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', enum: [...ERROR_CODES] },
        message: { type: 'string' },
      },
    },
  },
} as const;

export const GuestCreatedSchema = {
  type: 'object',
  required: ['guestId', 'token', 'expiresAt'],
  additionalProperties: false,
  properties: { guestId, token, expiresAt: timestamp },
} as const;

export const AttributeSchema = {
  type: 'object',
  required: ['name', 'value'],
  additionalProperties: false,
  properties: { name: { type: 'string' }, value: anyJson },
} as const;

export const LazyGuestSchema = {
  type: 'object',
  description: 'A guest created by its first attribute write, with that attribute.',
  required: ['guestId', 'token', 'expiresAt', 'name', 'value'],
  additionalProperties: false,
  properties: { ...GuestCreatedSchema.properties, ...AttributeSchema.properties },
} as const;

export const ProfileSchema = {
  type: 'object',
  required: ['kind', 'id', 'attributes'],
  additionalProperties: false,
  properties: {
    kind: { type: 'string', enum: ['guest', 'user'] },
    id: { type: 'string', description: "The guest id, or the user's `sub`." },
    attributes,
  },
} as const;

const MergeChangeSchema = {
  type: 'object',
  required: ['attribute', 'rule', 'outcome'],
  additionalProperties: false,
  properties: {
    attribute: { type: 'string' },
    rule: {
      type: 'string',
      enum: [
        'sum-by-key',
        'union-by-key',
        'guest-wins',
        'user-wins',
        'newest-wins',
        'transfer',
        'custom',
      ],
    },
    outcome: { type: 'string', enum: ['copied', 'combined', 'kept-user', 'kept-guest', 'removed'] },
    userItems: { type: 'integer' },
    guestItems: { type: 'integer' },
    resultItems: { type: 'integer' },
  },
} as const;

const MergeConflictSchema = {
  type: 'object',
  required: ['attribute', 'kept', 'discarded'],
  additionalProperties: false,
  properties: {
    attribute: { type: 'string' },
    key: { type: 'string' },
    kept: { type: 'string', enum: ['user', 'guest'] },
    discarded: anyJson,
  },
} as const;

const mergeResultProperties = {
  userId: { type: 'string' },
  guestId,
  mergedAt: timestamp,
  attributes: {
    ...attributes,
    description: "The user's values of every attribute the guest had, after the merge.",
  },
  changes: { type: 'array', items: MergeChangeSchema },
  conflicts: { type: 'array', items: MergeConflictSchema },
} as const;

export const MergeResultSchema = {
  type: 'object',
  required: ['userId', 'guestId', 'mergedAt', 'attributes', 'changes', 'conflicts'],
  additionalProperties: false,
  properties: mergeResultProperties,
} as const;

export const MergePreviewSchema = {
  type: 'object',
  required: [...MergeResultSchema.required, 'before', 'after'],
  additionalProperties: false,
  properties: {
    ...mergeResultProperties,
    before: {
      type: 'object',
      required: ['user', 'guest'],
      additionalProperties: false,
      properties: { user: attributes, guest: attributes },
    },
    after: attributes,
    alreadyMerged: {
      type: 'boolean',
      description: 'The guest was already merged into this user; `after` is that result.',
    },
  },
} as const;

export const HealthSchema = {
  type: 'object',
  required: ['status'],
  additionalProperties: false,
  properties: { status: { type: 'string', enum: ['ok'] } },
} as const;

const count = { type: 'integer', minimum: 0 };
const nullableMs = { type: ['number', 'null'] };

export const StatsSchema = {
  type: 'object',
  required: ['now', 'intervalMs', 'totals', 'conversionRate', 'samples'],
  additionalProperties: false,
  properties: {
    now: { type: 'integer', description: 'Epoch milliseconds.' },
    intervalMs: { type: 'integer', description: 'Sampling interval of `samples`.' },
    totals: {
      type: 'object',
      required: ['created', 'active', 'merged', 'expired'],
      additionalProperties: false,
      properties: { created: count, active: count, merged: count, expired: count },
    },
    conversionRate: {
      type: 'number',
      description: 'merged / created (0 when no guest was created).',
    },
    samples: {
      type: 'array',
      items: {
        type: 'object',
        required: [
          'at',
          'created',
          'active',
          'merged',
          'expired',
          'merges',
          'mergeP50Ms',
          'mergeP95Ms',
        ],
        additionalProperties: false,
        properties: {
          at: { type: 'integer' },
          created: count,
          active: count,
          merged: count,
          expired: count,
          merges: count,
          mergeP50Ms: nullableMs,
          mergeP95Ms: nullableMs,
        },
      },
    },
  },
} as const;

const schemas = {
  Error: ErrorSchema,
  GuestCreated: GuestCreatedSchema,
  LazyGuest: LazyGuestSchema,
  Attribute: AttributeSchema,
  Profile: ProfileSchema,
  MergeChange: MergeChangeSchema,
  MergeConflict: MergeConflictSchema,
  MergeResult: MergeResultSchema,
  MergePreview: MergePreviewSchema,
  Health: HealthSchema,
  Stats: StatsSchema,
};

const ref = (name: keyof typeof schemas) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: keyof typeof schemas, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});
const error = (description: string) => json('Error', description);
const retryAfter = {
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } },
};
const unavailable = {
  description: 'The database or the OIDC provider is unavailable; retry later.',
  headers: retryAfter,
  content: { 'application/json': { schema: ref('Error') } },
};
const common = {
  '400': error('`invalid_request`: malformed request, JSON or Authorization header.'),
  '503': unavailable,
  default: error('`internal_error` and any other refusal.'),
};
const callerErrors = {
  '401': error(
    '`credential_required`, `invalid_guest_credential`, `guest_expired`, `guest_merged`, `invalid_access_token`.',
  ),
};
const adminErrors = {
  '401': {
    ...error('`unauthorized`: the admin token is missing or wrong.'),
    headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
  },
  '404': error('`not_found`: no admin token is configured, so the route is not served.'),
};
const nameParameter = {
  name: 'name',
  in: 'path',
  required: true,
  description: 'Attribute name: 1-128 of letters, digits, `.`, `_`, `:`, `-`.',
  schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' },
};
const mergeInputs = {
  security: [{ accessToken: [] }],
  parameters: [
    {
      name: 'Guest-Token',
      in: 'header',
      required: false,
      description:
        'The guest credential. Without it the guest cookie is used, and then the request must be same-origin.',
      schema: { type: 'string' },
    },
  ],
};
const mergeErrors = {
  '401': error(
    '`invalid_access_token`, `invalid_guest_credential`, `guest_expired`, `guest_merged`.',
  ),
  '403': error('`cross_site_request`: a cookie merge from another origin.'),
  '409': error('`guest_already_merged`: the guest was merged into another user.'),
  '413': error('`profile_too_large`, `too_many_attributes`: the merged profile would be too big.'),
  '422': error('`merge_rule_failed`: a rule cannot combine the two values.'),
};

/** The OpenAPI 3.1 description of the service, served at `GET /openapi.json`. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Guestmode',
      version: '0.1.0',
      description:
        'Guest sessions, anonymous profiles and the exactly-once merge of a guest into an OpenID Connect user. Errors are always `{"error":{"code","message"}}`.',
    },
    components: {
      schemas,
      securitySchemes: {
        guestToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'A guest credential (`gm_...`) from this service.',
        },
        accessToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: "An access token from the configured OIDC issuer, for this API's audience.",
        },
        guestCookie: { type: 'apiKey', in: 'cookie', name: 'guestmode' },
        adminToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            '`GUESTMODE_ADMIN_TOKEN` (also accepted as the password of HTTP Basic). Without it set, these routes are not served.',
        },
      },
    },
    security: [{ guestToken: [] }, { accessToken: [] }, { guestCookie: [] }],
    paths: {
      '/v1/guests': {
        post: {
          summary: 'Create a guest',
          security: [],
          requestBody: {
            required: false,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  additionalProperties: false,
                  properties: { attributes },
                },
              },
            },
          },
          responses: {
            '200': json(
              'GuestCreated',
              'The request already carries a valid guest cookie: that guest, unchanged (the body is not applied).',
            ),
            '201': {
              ...json('GuestCreated', 'The guest; its credential is also set as the guest cookie.'),
              headers: { 'Set-Cookie': { schema: { type: 'string' } } },
            },
            '403': error(
              '`cross_site_request`: a browser request from another origin than the service.',
            ),
            '413': error('`payload_too_large`, `attribute_too_large`, `profile_too_large`.'),
            '415': error('`unsupported_media_type`.'),
            '429': { ...error('`rate_limited`'), headers: retryAfter },
            ...common,
          },
        },
      },
      '/v1/profile': {
        get: {
          summary: "The caller's profile (guest or user)",
          responses: { '200': json('Profile', 'The profile.'), ...callerErrors, ...common },
        },
      },
      '/v1/profile/attributes/{name}': {
        parameters: [nameParameter],
        get: {
          summary: 'Read one attribute',
          responses: {
            '200': json('Attribute', 'The attribute.'),
            ...callerErrors,
            '404': error('`attribute_not_found`.'),
            ...common,
          },
        },
        put: {
          summary: 'Create or replace one attribute (creates the guest if there is no credential)',
          requestBody: {
            required: true,
            description: 'The JSON value, stored exactly as sent.',
            content: { 'application/json': { schema: anyJson } },
          },
          responses: {
            '200': json('Attribute', 'Stored.'),
            '201': {
              ...json('LazyGuest', 'No credential was sent: a guest was created with the value.'),
              headers: { 'Set-Cookie': { schema: { type: 'string' } } },
            },
            ...callerErrors,
            '413': error(
              '`payload_too_large`, `attribute_too_large`, `profile_too_large`, `too_many_attributes`.',
            ),
            '415': error('`unsupported_media_type`.'),
            '429': { ...error('`rate_limited` (guest creation only)'), headers: retryAfter },
            ...common,
          },
        },
        delete: {
          summary: 'Delete one attribute',
          responses: {
            '204': { description: 'Deleted.' },
            ...callerErrors,
            '404': error('`attribute_not_found`.'),
            ...common,
          },
        },
      },
      '/v1/merge': {
        post: {
          summary: "Merge the guest into the access token's user, exactly once",
          ...mergeInputs,
          responses: {
            '200': {
              ...json('MergeResult', 'Merged; a retry answers the same body.'),
              headers: {
                'Idempotent-Replayed': {
                  description: '`true` when this answer replays an earlier merge.',
                  schema: { type: 'string', enum: ['true'] },
                },
              },
            },
            ...mergeErrors,
            ...common,
          },
        },
      },
      '/v1/merge/preview': {
        post: {
          summary: 'What a merge would do; nothing changes',
          ...mergeInputs,
          responses: {
            '200': json('MergePreview', 'The before, after and conflicts.'),
            ...mergeErrors,
            ...common,
          },
        },
      },
      '/healthz': {
        get: {
          summary: 'Liveness and database check',
          security: [],
          responses: { '200': json('Health', 'Healthy.'), ...common },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          security: [{ adminToken: [] }],
          responses: {
            '200': {
              description: 'Prometheus text format 0.0.4.',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            ...adminErrors,
            ...common,
          },
        },
      },
      '/v1/stats': {
        get: {
          summary: 'Funnel totals and time series (the dashboard reads this)',
          security: [{ adminToken: [] }],
          responses: { '200': json('Stats', 'Totals and samples.'), ...adminErrors, ...common },
        },
      },
      '/': {
        get: {
          summary: 'The dashboard page',
          security: [{ adminToken: [] }],
          responses: {
            '200': {
              description: 'HTML.',
              content: { 'text/html': { schema: { type: 'string' } } },
            },
            default: error(
              '`unauthorized` without the admin token; `not_found` when the dashboard is switched off or no admin token is set.',
            ),
          },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          security: [],
          responses: {
            '200': {
              description: 'OpenAPI 3.1.',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
          },
        },
      },
    },
  };
}
