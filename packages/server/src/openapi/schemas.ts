/**
 * The JSON Schemas of every response body, used twice: by Fastify to serialise responses
 * (fast-json-stringify is faster than JSON.stringify and drops fields nobody documented) and
 * in the OpenAPI 3.1 document served at `/openapi.json`. One definition, so the document
 * cannot drift from what the service sends; a test validates every body it sees against it.
 */

import { BUILT_IN_RULES, ERROR_CODES, GUEST_CREDENTIAL_PATTERN } from '@guestmode/core';

const guestId = { type: 'string', description: 'The guest id (public; not a credential).' };
const token = {
  type: 'string',
  pattern: GUEST_CREDENTIAL_PATTERN.source,
  description: 'The guest credential. Shown once; send it as `Authorization: Bearer`.',
};
const timestamp = { type: 'string', format: 'date-time' };
export const anyJson = { description: 'Any JSON value.' };
export const attributes = {
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
      enum: [...BUILT_IN_RULES, 'custom'],
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

export const ProfileExportSchema = {
  type: 'object',
  required: ['kind', 'id', 'attributes', 'merges'],
  additionalProperties: false,
  properties: {
    ...ProfileSchema.properties,
    merges: {
      type: 'array',
      description: 'The guests merged into the user, oldest first (always empty for a guest).',
      items: {
        type: 'object',
        required: ['guestId', 'mergedAt', 'result'],
        additionalProperties: false,
        properties: {
          guestId: { type: 'string' },
          mergedAt: { type: 'string', format: 'date-time' },
          result: { $ref: '#/components/schemas/MergeResult' },
        },
      },
    },
  },
} as const;

/** Every schema by its name in the document's `components.schemas`. */
export const schemas = {
  Error: ErrorSchema,
  GuestCreated: GuestCreatedSchema,
  LazyGuest: LazyGuestSchema,
  Attribute: AttributeSchema,
  Profile: ProfileSchema,
  ProfileExport: ProfileExportSchema,
  MergeChange: MergeChangeSchema,
  MergeConflict: MergeConflictSchema,
  MergeResult: MergeResultSchema,
  MergePreview: MergePreviewSchema,
  Health: HealthSchema,
  Stats: StatsSchema,
};
