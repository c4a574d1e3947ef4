/**
 * The OpenAPI 3.1 document of the service, built around the response schemas of `schemas.ts`.
 * Error codes and their statuses come from core's `ERROR_STATUS`, the one code-to-status map.
 */

import {
  ATTRIBUTE_NAME_PATTERN,
  ATTRIBUTE_NAME_RULE,
  ERROR_STATUS,
  type GuestmodeErrorCode,
} from '@guestmode/core';
import { COOKIE_NAME, SECURE_COOKIE_NAME } from '../auth.js';
import { anyJson, attributes, schemas } from './schemas.js';
import { eventSchemas, webhooksSection } from './webhooks.js';

const ref = (name: keyof typeof schemas) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: keyof typeof schemas, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});
const error = (description: string) => json('Error', description);
const retryAfter = {
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } },
};

/** What a code means here, where its name alone does not say it. */
const NOTES: Partial<Record<GuestmodeErrorCode, string>> = {
  invalid_request: 'malformed request, JSON, path or Authorization header',
  payload_too_large: 'the body is larger than the limit',
  rate_limited: 'too many new guests from this address',
  cross_site_request: 'a browser request from another origin than the service',
  unauthorized: 'the admin token is missing or wrong',
  not_found: 'no admin token is configured, so the route is not served',
  guest_already_merged: 'the guest was merged into another user',
  merge_rule_failed: 'a rule cannot combine the two values',
  profile_too_large: 'the profile would be too big',
  too_many_attributes: 'the profile would hold too many attributes',
  storage_unavailable: 'the database is unavailable',
  provider_unavailable: "the OIDC provider's keys cannot be fetched",
};

/**
 * The error responses of an operation that can refuse with `codes`: one response per status,
 * each status taken from `ERROR_STATUS`, so the document cannot give a code another status than
 * the service answers with. `invalid_request` and `storage_unavailable` apply to every operation.
 */
function refusals(...codes: GuestmodeErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, GuestmodeErrorCode[]>();
  for (const code of new Set<GuestmodeErrorCode>([
    'invalid_request',
    ...codes,
    'storage_unavailable',
  ])) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const description = `${list
      .map((code) => (NOTES[code] ? `\`${code}\`: ${NOTES[code]}` : `\`${code}\``))
      .join('; ')}.`;
    responses[String(status)] =
      status === 429 || status === 503
        ? {
            ...error(status === 503 ? `Retry later. ${description}` : description),
            headers: retryAfter,
          }
        : error(description);
  }
  responses.default = error('`internal_error` and any other refusal.');
  return responses;
}

/** Refusals of a request that identifies its caller (guest credential or access token). */
const CALLER: GuestmodeErrorCode[] = [
  'credential_required',
  'invalid_guest_credential',
  'guest_expired',
  'guest_merged',
  'invalid_access_token',
  'provider_unavailable',
];
/** Refusals of a request with a JSON body. */
const BODY: GuestmodeErrorCode[] = ['payload_too_large', 'unsupported_media_type'];
/** Refusals of a write to a profile. */
const WRITE: GuestmodeErrorCode[] = [
  'invalid_attribute_name',
  'invalid_attribute_value',
  'attribute_too_large',
  'profile_too_large',
  'too_many_attributes',
];
/** Refusals of the admin routes (`GUESTMODE_ADMIN_TOKEN`); 401 names the scheme to answer. */
function adminRefusals(): Record<string, unknown> {
  const responses = refusals('unauthorized', 'not_found');
  const unauthorized = responses['401'] as Record<string, unknown>;
  responses['401'] = {
    ...unauthorized,
    headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
  };
  return responses;
}
const nameParameter = {
  name: 'name',
  in: 'path',
  required: true,
  description: `Attribute name: ${ATTRIBUTE_NAME_RULE}.`,
  schema: { type: 'string', pattern: ATTRIBUTE_NAME_PATTERN.source },
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
const mergeErrors = refusals(
  'invalid_access_token',
  'invalid_guest_credential',
  'guest_expired',
  'guest_merged',
  'provider_unavailable',
  'cross_site_request',
  'guest_already_merged',
  'profile_too_large',
  'too_many_attributes',
  'merge_rule_failed',
  ...BODY,
);

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
      schemas: { ...schemas, ...eventSchemas() },
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
        // Browsers keep one name per scheme: the service sets and reads `guestmode` over plain
        // HTTP and only `__Host-guestmode` over HTTPS.
        guestCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: COOKIE_NAME,
          description: `The guest cookie over plain HTTP. Over HTTPS it is \`${SECURE_COOKIE_NAME}\` instead.`,
        },
        guestCookieHttps: {
          type: 'apiKey',
          in: 'cookie',
          name: SECURE_COOKIE_NAME,
          description: `The guest cookie over HTTPS (TLS, or a trusted proxy's \`X-Forwarded-Proto: https\`), with \`Secure\`; the only name read there.`,
        },
        adminToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            '`GUESTMODE_ADMIN_TOKEN` (also accepted as the password of HTTP Basic). Without it set, these routes are not served.',
        },
      },
    },
    security: [
      { guestToken: [] },
      { accessToken: [] },
      { guestCookie: [] },
      { guestCookieHttps: [] },
    ],
    webhooks: webhooksSection(),
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
            ...refusals(...WRITE, ...BODY, 'rate_limited', 'cross_site_request'),
          },
        },
      },
      '/v1/profile': {
        get: {
          summary: "The caller's profile (guest or user)",
          responses: { '200': json('Profile', 'The profile.'), ...refusals(...CALLER) },
        },
        delete: {
          summary:
            "Delete the caller's data: a guest deletes itself, a user's profile and merge records are erased",
          responses: {
            '204': { description: 'Deleted; a guest cookie is cleared.' },
            ...refusals(...CALLER),
          },
        },
      },
      '/v1/profile/export': {
        get: {
          summary:
            'Everything held about the caller: the profile and the guests merged into a user',
          responses: {
            '200': json('ProfileExport', 'The export.'),
            ...refusals(...CALLER),
          },
        },
      },
      '/v1/profile/attributes/{name}': {
        parameters: [nameParameter],
        get: {
          summary: 'Read one attribute',
          responses: {
            '200': json('Attribute', 'The attribute.'),
            ...refusals(...CALLER, 'invalid_attribute_name', 'attribute_not_found'),
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
            ...refusals(...CALLER, ...WRITE, ...BODY, 'rate_limited'),
          },
        },
        delete: {
          summary: 'Delete one attribute',
          responses: {
            '204': { description: 'Deleted.' },
            ...refusals(...CALLER, 'invalid_attribute_name', 'attribute_not_found'),
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
          },
        },
      },
      '/livez': {
        get: {
          summary: 'Liveness: the process answers (no database or provider check)',
          security: [],
          responses: { '200': json('Health', 'The process answers.'), ...refusals() },
        },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: the database and the OIDC provider (discovery, JWKS) answer',
          security: [],
          responses: {
            '200': json('Health', 'Ready to serve.'),
            ...refusals('provider_unavailable'),
          },
        },
      },
      '/healthz': {
        get: {
          summary: 'Liveness and database check',
          security: [],
          responses: { '200': json('Health', 'Healthy.'), ...refusals() },
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
            ...adminRefusals(),
          },
        },
      },
      '/v1/stats': {
        get: {
          summary: 'Funnel totals and time series (the dashboard reads this)',
          security: [{ adminToken: [] }],
          responses: { '200': json('Stats', 'Totals and samples.'), ...adminRefusals() },
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
