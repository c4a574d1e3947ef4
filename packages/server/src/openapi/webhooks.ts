import { EVENT_TYPES, type EventType } from '@guestmode/core';

/**
 * The lifecycle events as OpenAPI 3.1 `webhooks`: what the service POSTs to each configured
 * endpoint. The body is `{ type, timestamp, data }`; the id and the signature travel in the
 * Standard Webhooks headers.
 */
const guestId = { type: 'string', description: 'The guest id.' };
const userId = { type: 'string', description: "The user's id (the access token's `sub`)." };
const timestamp = { type: 'string', format: 'date-time' };

const DATA: Record<EventType, { summary: string; data: Record<string, unknown> }> = {
  'guest.created': {
    summary: 'A guest was created (only with include: ["guest.created"])',
    data: { guestId, expiresAt: timestamp },
  },
  'guest.merged': {
    summary: 'A guest was merged into a user (once per merge; a replayed merge sends none)',
    data: {
      guestId,
      userId,
      mergedAt: timestamp,
      changes: { type: 'array', items: { $ref: '#/components/schemas/MergeChange' } },
      conflicts: { type: 'integer', minimum: 0, description: 'Values the merge discarded.' },
    },
  },
  'guest.expired': {
    summary: 'A guest expired unmerged and was purged',
    data: { guestId },
  },
  'guest.deleted': {
    summary: 'A guest was deleted, by itself or by an operator',
    data: { guestId, by: { type: 'string', enum: ['guest', 'operator'] } },
  },
  'user.deleted': {
    summary: "A user's profile and merge records were erased",
    data: { userId },
  },
};

const header = (name: string, description: string, schema: Record<string, unknown>) => ({
  name,
  in: 'header',
  required: true,
  description,
  schema,
});

const HEADERS = [
  header('webhook-id', 'The event id (`evt_…`); the same on every retry: deduplicate on it.', {
    type: 'string',
  }),
  header('webhook-timestamp', 'Seconds since the epoch when this attempt was sent.', {
    type: 'string',
    pattern: '^[0-9]+$',
  }),
  header(
    'webhook-signature',
    'Space-separated `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret.',
    { type: 'string' },
  ),
];

export function eventSchemaName(type: EventType): string {
  return `${type
    .split('.')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('')}Event`;
}

/** One schema per event, for `components.schemas`. */
export function eventSchemas(): Record<string, unknown> {
  return Object.fromEntries(
    EVENT_TYPES.map((type) => [
      eventSchemaName(type),
      {
        type: 'object',
        required: ['type', 'timestamp', 'data'],
        additionalProperties: false,
        properties: {
          type: { const: type },
          timestamp,
          data: {
            type: 'object',
            required: Object.keys(DATA[type].data),
            additionalProperties: false,
            properties: DATA[type].data,
          },
        },
      },
    ]),
  );
}

/** The `webhooks` section: one POST per event type. */
export function webhooksSection(): Record<string, unknown> {
  return Object.fromEntries(
    EVENT_TYPES.map((type) => [
      type,
      {
        post: {
          summary: DATA[type].summary,
          description:
            'Delivered at least once, in order per guest, retried with backoff until the give-up horizon. Verify the signature before trusting the body.',
          security: [],
          parameters: HEADERS,
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { $ref: `#/components/schemas/${eventSchemaName(type)}` },
              },
            },
          },
          responses: {
            '2XX': { description: 'Taken; any other answer (or none in time) is retried.' },
          },
        },
      },
    ]),
  );
}
