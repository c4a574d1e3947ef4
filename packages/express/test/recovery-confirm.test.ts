// A merge that fails at the callback because the database is down, and whose retry finds that
// it must ask (`confirm: 'on-conflict'`, the carts conflict): the next page navigation lands on
// the confirm page, as the callback would have sent the user, and the decision merges once.
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Guestmode } from '@guestmode/core';
import { type PostgresServer, startPostgres } from '@guestmode/testkit';
import { getPendingMerge } from '../src/index.js';
import {
  Browser,
  type Fixture,
  finishSignIn,
  parseForm,
  postgresEngine,
  profile,
  SAME_ORIGIN,
  setAttribute,
  signIn,
  startFixture,
  startSignIn,
} from './helpers.js';

/**
 * A page navigation as a browser sends it (a typed URL). Over `node:http`, since `fetch` always
 * says `Sec-Fetch-Mode: cors`, which is what marks an API call.
 */
function navigate(browser: Browser, url: string): Promise<{ status: number; location?: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = get(
      target,
      {
        headers: {
          accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
          'sec-fetch-mode': 'navigate',
          'sec-fetch-dest': 'document',
          'sec-fetch-site': 'none',
          cookie: browser.cookieHeader(target),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, location: res.headers.location }),
        );
      },
    );
    req.on('error', reject);
  });
}

async function mergesCounted(engine: Guestmode): Promise<number> {
  const text = await engine.metrics.render();
  return Number(/^guestmode_merge_duration_seconds_count\s+(\d+)/m.exec(text)?.[1] ?? 0);
}

/** Reads the profile (an API call) until the retry has decided (bounded: 40 tries, ~20 s). */
async function profileOnceRetried(browser: Browser, url: string) {
  for (let i = 0; i < 40; i++) {
    const view = await profile(browser, url).catch(() => undefined);
    if (view && !view.mergePending) return view;
    await sleep(500);
  }
  assert.fail('the merge was not retried');
}

describe('a retried merge that must ask sends the next page navigation to the confirm page', () => {
  let postgres: PostgresServer;
  let f: Fixture;
  before(async () => {
    postgres = await startPostgres();
    f = await startFixture(
      { confirm: 'on-conflict', confirmPath: '/merge' },
      {
        // The app's own confirm page, as the Bookstore has.
        routes: (app) =>
          app.get('/merge', async (req, res) => {
            const pending = await getPendingMerge(req);
            if (!pending) return res.redirect('/');
            res
              .type('html')
              .send(
                `<form method="post" action="${pending.action}"><p>${pending.reason}</p>` +
                  `<input type="hidden" name="csrf" value="${pending.csrfToken}">` +
                  '<button name="decision" value="merge">Merge</button></form>',
              );
          }),
        engine: postgresEngine(postgres.url),
      },
    );
  });
  after(async () => {
    await f?.close();
    await postgres?.stop();
  });

  test('the database is down at the callback; once back, the user is asked once and the decision merges once', async () => {
    // Alice's account already holds a cart and a theme.
    const earlier = new Browser();
    await setAttribute(earlier, f.url, 'theme', 'dark');
    await setAttribute(earlier, f.url, 'cart', [{ id: 'kokoro', quantity: 1 }]);
    await signIn(earlier, f.url, 'alice', 'alice password 1');
    assert.equal(await mergesCounted(f.engine), 1);

    const browser = new Browser();
    await setAttribute(browser, f.url, 'theme', 'light');
    await setAttribute(browser, f.url, 'cart', [{ id: 'kokoro', quantity: 2 }]);
    const start = await startSignIn(browser, f.url);
    await postgres.restart({
      whileDown: async () => {
        const { url } = await finishSignIn(browser, start, 'alice', 'alice password 1');
        assert.equal(new URL(url).pathname, '/', 'the callback ends at the app, not an error');
      },
    });

    // An API call retries the merge: it learns where the decision is made, and is not redirected.
    const waiting = await profileOnceRetried(browser, f.url);
    assert.equal(waiting.kind, 'user');
    assert.equal(waiting.confirmUrl, '/merge');
    assert.deepEqual(waiting.attributes, { theme: 'dark', cart: [{ id: 'kokoro', quantity: 1 }] });
    assert.ok(browser.get(f.url, 'guestmode'), 'the guest waits for the decision');
    const api = await browser.fetch(`${f.url}/`, { headers: { accept: 'text/html' } });
    assert.equal(api.status, 200, 'a fetch is answered, not redirected');

    // The next page navigation lands on the confirm page.
    assert.deepEqual(await navigate(browser, `${f.url}/`), { status: 303, location: '/merge' });
    // The confirm page itself is not redirected.
    assert.equal((await navigate(browser, `${f.url}/merge`)).status, 200);
    const confirm = await browser.fetch(`${f.url}/merge`);
    assert.equal(confirm.status, 200);
    const html = await confirm.text();
    assert.match(html, /conflict/);
    // Asked once: other pages are open again while the decision waits.
    assert.equal((await navigate(browser, `${f.url}/`)).status, 200);
    assert.equal((await profile(browser, f.url)).confirmUrl, '/merge');

    const form = parseForm(html, '/guestmode/merge');
    const decided = await browser.submit(
      `${f.url}${form.action}`,
      { ...form.fields, decision: 'merge' },
      SAME_ORIGIN,
    );
    assert.equal(decided.url, `${f.url}/`);
    assert.deepEqual(await f.engine.getAttributes({ kind: 'user', id: f.users.alice }), {
      theme: 'dark',
      cart: [{ id: 'kokoro', quantity: 3 }],
    });
    assert.equal(browser.get(f.url, 'guestmode'), undefined, 'the guest cookie is cleared');
    const after = await profile(browser, f.url);
    assert.equal(after.confirmUrl, undefined);
    assert.equal(after.mergePending, undefined);
    assert.equal((await navigate(browser, `${f.url}/`)).status, 200);
    assert.equal(await mergesCounted(f.engine), 2, 'merged exactly once more');
  });
});
