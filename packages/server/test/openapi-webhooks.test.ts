// The `webhooks` of /openapi.json against what the engine sends: one entry per event type, and
// every event the engine produces validates against its documented schema.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGuestmode, EVENT_TYPES, type GuestmodeEvent } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { openApiDocument } from '../src/openapi/document.js';
import { eventSchemaName } from '../src/openapi/webhooks.js';

test('every event the engine sends matches its webhook in the OpenAPI document', async () => {
  const doc = openApiDocument() as { webhooks: Record<string, { post: unknown }> };
  assert.deepEqual(Object.keys(doc.webhooks).sort(), [...EVENT_TYPES].sort());
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
  ajv.addSchema({ ...doc, $id: 'openapi' });

  const received: GuestmodeEvent[] = [];
  let clock = Date.now();
  const gm = createGuestmode({
    storage: await openSqliteStorage({ database: ':memory:' }),
    now: () => clock,
    mergeRules: { cart: 'sum-by-key' },
    events: {
      include: ['guest.created'],
      onEvent: (event) => {
        received.push(event);
      },
      delivery: { enabled: false },
    },
  });
  try {
    const a = await gm.createGuest({ cart: [{ id: 'b1', quantity: 1 }] });
    await gm.merge({ guestToken: a.token, userId: 'user-1' });
    const b = await gm.createGuest({});
    await gm.deleteGuest(b.token);
    await gm.deleteUser('user-1');
    await gm.createGuest({});
    clock += 31 * 86_400_000;
    await gm.purgeExpired();
    await gm.deliverEvents();
  } finally {
    await gm.close();
  }
  assert.deepEqual(new Set(received.map((e) => e.type)), new Set(EVENT_TYPES));
  for (const { id, ...body } of received) {
    assert.match(id, /^evt_/);
    const validate = ajv.getSchema(`openapi#/components/schemas/${eventSchemaName(body.type)}`);
    assert.ok(validate, body.type);
    assert.ok(validate(body), `${body.type}: ${ajv.errorsText(validate.errors)}`);
  }
});
