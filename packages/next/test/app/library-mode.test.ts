// The App Router's guest-creation limit (route handlers see no socket address: the client comes
// from X-Forwarded-For as far as `trustProxy` reaches) and the data-rights delete of the guest
// API (`DELETE <apiPath>/profile`).
// Next's server sets up its environment (AsyncLocalStorage for the request store) first.
import 'next/dist/server/node-environment-baseline.js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createForwardedKeyResolver, SHARED_CLIENT_KEY } from '@guestmode/core';
import { createGuestmodeApp } from '../../src/app/index.js';
import { Browser, SAME_ORIGIN } from '../helpers.js';
import { type AppFixture, startAppFixture } from './helpers.js';

const LIMIT = { guestCreationLimit: { max: 2, window: '1h' } } as const;

/** A new visitor's first write through the guest API, from `forwardedFor`. */
async function createGuest(f: AppFixture, forwardedFor?: string) {
  const browser = new Browser();
  const res = await browser.fetch(`${f.url}/api/guestmode/attributes/cart`, {
    method: 'PUT',
    headers: {
      'content-type': 'application/json',
      ...SAME_ORIGIN,
      ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
    },
    body: JSON.stringify([{ id: 'b1', quantity: 1 }]),
  });
  await res.arrayBuffer();
  return { browser, status: res.status };
}

describe('guest-creation limit with one trusted proxy', () => {
  let f: AppFixture;
  before(async () => {
    f = await startAppFixture({ trustProxy: 1 }, LIMIT);
  });
  after(async () => {
    await f?.close();
  });

  test('counts each client by the address the proxy saw, ignoring what the client wrote', async () => {
    assert.equal((await createGuest(f, '203.0.113.1')).status, 200);
    // The leftmost entry is the client's own claim; the proxy appended the real address.
    assert.equal((await createGuest(f, '198.51.100.9, 203.0.113.1')).status, 200);
    const refused = await createGuest(f, '192.0.2.77, 203.0.113.1');
    assert.equal(refused.status, 429);
    assert.equal(refused.browser.get(f.url, 'guestmode'), undefined);
    assert.equal((await createGuest(f, '203.0.113.2')).status, 200, 'another client has its own');
  });
});

describe('guest-creation limit with nothing trusted (the default)', () => {
  let f: AppFixture;
  before(async () => {
    f = await startAppFixture({}, LIMIT);
  });
  after(async () => {
    await f?.close();
  });

  test('every visitor shares one budget: a forged X-Forwarded-For buys nothing', async () => {
    assert.equal((await createGuest(f, '203.0.113.1')).status, 200);
    assert.equal((await createGuest(f, '203.0.113.2')).status, 200);
    assert.equal((await createGuest(f, '203.0.113.3')).status, 429);
    assert.equal((await createGuest(f)).status, 429);
  });
});

test('the forwarded key resolver walks only the trusted hops', () => {
  assert.equal(createForwardedKeyResolver(0)('203.0.113.7', undefined), SHARED_CLIENT_KEY);
  assert.equal(createForwardedKeyResolver(1)('1.1.1.1, 203.0.113.7', undefined), '203.0.113.7');
  assert.equal(createForwardedKeyResolver(2)('1.1.1.1, 203.0.113.7', undefined), '1.1.1.1');
  assert.equal(createForwardedKeyResolver(1)(undefined, '203.0.113.8'), '203.0.113.8');
  assert.equal(createForwardedKeyResolver(1)(undefined, undefined), SHARED_CLIENT_KEY);
  assert.equal(createForwardedKeyResolver(1)('not-an-ip', undefined), SHARED_CLIENT_KEY);
  const listed = createForwardedKeyResolver(['10.0.0.0/8']);
  assert.equal(listed('203.0.113.7, 10.0.0.3', undefined), '203.0.113.7');
  assert.equal(listed('203.0.113.7', undefined), '203.0.113.7');
  assert.equal(createForwardedKeyResolver(1)('2001:db8:1:2::5', undefined), '2001:db8:1:2::/64');
});

test('a bad trustProxy is refused at construction, naming the option', () => {
  for (const trustProxy of [true, 11, ['not-an-address']]) {
    assert.throws(
      () =>
        createGuestmodeApp({
          guestmode: Promise.resolve({ merge() {} }) as never,
          logto: {
            endpoint: 'http://127.0.0.1:1',
            appId: 'a',
            appSecret: 's',
            baseUrl: 'http://127.0.0.1:2',
            cookieSecret: 'x'.repeat(32),
            cookieSecure: false,
            resources: ['https://api.test'],
          },
          trustProxy: trustProxy as never,
        }),
      (error: Error) => error instanceof TypeError && /options\.trustProxy/.test(error.message),
    );
  }
});

describe('DELETE <apiPath>/profile', () => {
  let f: AppFixture;
  before(async () => {
    f = await startAppFixture();
  });
  after(async () => {
    await f?.close();
  });

  test("deletes the visitor's guest and its cookie; another site cannot", async () => {
    const { browser } = await createGuest(f);
    const token = browser.get(f.url, 'guestmode')!.value;
    const forged = await browser.fetch(`${f.url}/api/guestmode/profile`, {
      method: 'DELETE',
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(forged.status, 403);
    assert.ok(await f.engine.validateGuest(token));

    const res = await browser.fetch(`${f.url}/api/guestmode/profile`, {
      method: 'DELETE',
      headers: SAME_ORIGIN,
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { kind: 'none', id: null, userId: null, attributes: {} });
    assert.equal(browser.get(f.url, 'guestmode'), undefined);
    assert.equal(await f.engine.validateGuest(token), null);
  });
});
