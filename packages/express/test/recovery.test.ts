import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGuestmode, type Guestmode } from '@guestmode/core';
import { closeServer, listen, type PostgresServer, startPostgres } from '@guestmode/testkit';
import {
  Browser,
  type Fixture,
  finishSignIn,
  postgresEngine,
  profile,
  RESOURCE,
  setAttribute,
  signIn,
  signOut,
  startFixture,
  startSignIn,
} from './helpers.js';

const CART = [{ id: 'kokoro', quantity: 2 }];

async function whoami(browser: Browser, url: string) {
  const res = await browser.fetch(`${url}/whoami`);
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { kind: string; mergePending: boolean };
}

/** Reads the profile until the waiting merge has been retried (bounded: 40 tries, ~20 s). */
async function profileOnceMerged(browser: Browser, url: string) {
  for (let i = 0; i < 40; i++) {
    const view = await profile(browser, url);
    if (!view.mergePending) return view;
    await sleep(500);
  }
  assert.fail('the merge was not retried');
}

/** Completed (non-replayed) merges this process counted, from the engine's metrics. */
async function mergesCounted(engine: Guestmode): Promise<number> {
  const text = await engine.metrics.render();
  const line = /^guestmode_merge_duration_seconds_count\s+(\d+)/m.exec(text);
  return Number(line?.[1] ?? 0);
}

describe('a merge that fails at the callback because the database is down', () => {
  let postgres: PostgresServer;
  let f: Fixture;
  before(async () => {
    postgres = await startPostgres();
    f = await startFixture(
      {},
      {
        engine: postgresEngine(postgres.url),
      },
    );
  });
  after(async () => {
    await f?.close();
    await postgres?.stop();
  });

  test('signs the user in, says the cart is being moved, and merges it once the database is back', async () => {
    const browser = new Browser();
    await setAttribute(browser, f.url, 'cart', CART);
    const guestCookie = browser.get(f.url, 'guestmode')!.value;
    const start = await startSignIn(browser, f.url);
    await postgres.restart({
      whileDown: async () => {
        const { url } = await finishSignIn(browser, start, 'alice', 'alice password 1');
        assert.equal(new URL(url).pathname, '/', 'the callback ends at the app, not an error');
        assert.deepEqual(await whoami(browser, f.url), { kind: 'user', mergePending: true });
        // Signed in, and the guest is kept for the retry.
        assert.equal(browser.get(f.url, 'guestmode')?.value, guestCookie);
      },
    });

    const merged = await profileOnceMerged(browser, f.url);
    assert.equal(merged.kind, 'user');
    assert.deepEqual(merged.attributes, { cart: CART });
    assert.equal(browser.get(f.url, 'guestmode'), undefined, 'the guest cookie is cleared');
    assert.equal(await mergesCounted(f.engine), 1);

    // More requests, a sign-out and another sign-in do not merge it again.
    assert.deepEqual((await profile(browser, f.url)).attributes, { cart: CART });
    await signOut(browser, f.url);
    await signIn(browser, f.url, 'alice', 'alice password 1');
    const again = await profile(browser, f.url);
    assert.deepEqual(again.attributes, { cart: CART });
    assert.equal(again.mergePending, undefined);
    assert.equal(await mergesCounted(f.engine), 1);
  });

  test('a sign-out while the merge waits keeps the guest; the next sign-in merges it', async () => {
    const browser = new Browser();
    await setAttribute(browser, f.url, 'cart', [{ id: 'soseki', quantity: 1 }]);
    const start = await startSignIn(browser, f.url);
    await postgres.restart({
      whileDown: async () => {
        await finishSignIn(browser, start, 'bob', 'bob password 12');
        assert.deepEqual(await whoami(browser, f.url), { kind: 'user', mergePending: true });
        await signOut(browser, f.url);
        assert.ok(browser.get(f.url, 'guestmode'), 'the guest cookie survives the sign-out');
      },
    });
    const visitor = await profile(browser, f.url);
    assert.equal(visitor.kind, 'guest');
    assert.deepEqual(visitor.attributes, { cart: [{ id: 'soseki', quantity: 1 }] });

    await signIn(browser, f.url, 'bob', 'bob password 12');
    const user = await profile(browser, f.url);
    assert.equal(user.kind, 'user');
    assert.deepEqual(user.attributes, { cart: [{ id: 'soseki', quantity: 1 }] });
    assert.equal(browser.get(f.url, 'guestmode'), undefined);
  });
});

/**
 * The JWKS as the engine sees it: forwarded to the provider's while `up`, refused otherwise.
 * A stand-in only for the fault; the keys are the real provider's.
 */
async function jwksSwitch(target: string): Promise<{ server: Server; url: string; up: boolean }> {
  const state = { up: true } as { server: Server; url: string; up: boolean };
  state.server = createServer((req, res) => {
    if (!state.up) {
      res.statusCode = 503;
      res.end();
      return;
    }
    fetch(target).then(
      async (answer) => {
        res.statusCode = answer.status;
        res.setHeader('content-type', answer.headers.get('content-type') ?? 'application/json');
        res.end(Buffer.from(await answer.arrayBuffer()));
      },
      () => {
        res.statusCode = 502;
        res.end();
      },
    );
    req.resume();
  });
  state.url = `${await listen(state.server)}/jwks`;
  return state;
}

describe("a merge that fails at the callback because the provider's keys are unreachable", () => {
  let f: Fixture;
  let jwks: Awaited<ReturnType<typeof jwksSwitch>>;
  before(async () => {
    f = await startFixture(
      {},
      {
        engine: async (idp) => {
          const discovery = (await (
            await fetch(`${idp.issuer}/.well-known/openid-configuration`)
          ).json()) as { jwks_uri: string };
          jwks = await jwksSwitch(discovery.jwks_uri);
          jwks.up = false;
          return createGuestmode({
            storage: await (await import('@guestmode/core/sqlite')).openSqliteStorage({
              database: ':memory:',
            }),
            mergeRules: { cart: 'sum-by-key' },
            accessTokens: { issuer: idp.issuer, audience: RESOURCE, jwksUri: jwks.url },
          });
        },
      },
    );
  });
  after(async () => {
    await f?.close();
    if (jwks) await closeServer(jwks.server);
  });

  test('signs the user in, retries, and merges exactly once when the keys are back', async () => {
    const browser = new Browser();
    await setAttribute(browser, f.url, 'cart', CART);
    const { res, url } = await signIn(browser, f.url, 'alice', 'alice password 1');
    assert.equal(new URL(url).pathname, '/', await res.text());
    const waiting = await profile(browser, f.url);
    assert.equal(waiting.kind, 'user');
    assert.equal(waiting.mergePending, true);
    assert.deepEqual(waiting.attributes, {});
    assert.ok(browser.get(f.url, 'guestmode'));

    jwks.up = true;
    const merged = await profileOnceMerged(browser, f.url);
    assert.deepEqual(merged.attributes, { cart: CART });
    assert.equal(browser.get(f.url, 'guestmode'), undefined);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual((await profile(browser, f.url)).attributes, { cart: CART });
    }
    assert.equal(await mergesCounted(f.engine), 1);
  });
});
