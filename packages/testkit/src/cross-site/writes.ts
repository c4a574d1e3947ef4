// The suite's attacks on the shop's writes: forged form posts and fetches, their 307 bounces
// through a second site, the caching of personal pages, and the guest-creation limit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { autoSubmitForm, visitAttack, watchRequests } from '../attacker.js';
import { newPage } from '../bookstore.js';
import { randomId } from '../util.js';
import {
  type Attack,
  CAT,
  type CrossSiteDriver,
  carries,
  GUEST_COOKIE,
  refused,
} from './driver.js';

/**
 * A visitor with a guest and a cart in a fresh browser context, the writes to forge against
 * the shop, a watch on what reaches it, and the check that the forgeries changed nothing.
 */
async function victimWithCart(driver: CrossSiteDriver, attack: Attack) {
  const { url, browser, records, guestCookie, shop } = attack;
  const { context, page } = await newPage(browser);
  await shop(page, 0);
  const before = await guestCookie(context);
  assert.ok(before, 'the visitor is a guest');
  const writes = await driver.forgedWrites(page, url);
  const created = await records.guestCount();
  const unchanged = async () => {
    assert.equal(await records.guestCount(), created, 'no guest created');
    assert.equal(await guestCookie(context), before, 'the guest cookie is not replaced');
    assert.deepEqual(await records.guestCart(before), CAT);
    await context.close();
  };
  return { page, writes, wire: watchRequests(context, url), unchanged };
}

/** Registers the tests of the shop's writes. */
export function writeTests(
  driver: CrossSiteDriver,
  running: () => Attack,
  step: { timeout: number },
): void {
  test(
    "pages that show the visitor's cart are never cached (no-store, and Vary: Cookie or private); nor is the guest API; the guest cookie is HttpOnly and SameSite=Lax",
    step,
    async () => {
      const { url, browser, shop } = running();
      const { context, page } = await newPage(browser);
      await shop(page, 0);
      for (const path of driver.personalPages) {
        const res = await page.goto(`${url}${path}`);
        assert.equal(res?.status(), 200, path);
        const cacheControl = res?.headers()['cache-control'] ?? '';
        assert.match(cacheControl, /\bno-store\b/, path);
        if (driver.personalPagesCaching === 'private') {
          assert.match(cacheControl, /\bprivate\b/, path);
        } else {
          assert.match(res?.headers().vary ?? '', /\bCookie\b/i, path);
        }
      }
      if (driver.guestApi) {
        const api = await page.request.get(`${url}${driver.guestApi}/profile`);
        assert.equal(api.headers()['cache-control'], 'no-store');
        assert.match(api.headers().vary ?? '', /\bCookie\b/i);
      }
      // Over HTTP the guest cookie is `guestmode` (`__Host-guestmode` needs HTTPS), and no other
      // site's request carries it.
      const cookie = (await context.cookies(url)).find((c) => GUEST_COOKIE.test(c.name));
      assert.ok(cookie, 'the visitor is a guest');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Lax');
      await context.close();
    },
  );

  test(
    'a plain cross-site form post or fetch to each write creates no guest and keeps the guest cookie and cart',
    step,
    async () => {
      const { url, visit, a } = running();
      const { page, writes, wire, unchanged } = await victimWithCart(driver, running());

      for (const write of writes) {
        const target = `${url}${write.path}`;
        const form = autoSubmitForm(target, write.fields, { enctype: write.enctype });
        await visit(page, 'plain', form);
        // What Chromium sent: the attacker's origin, cross-site, and no SameSite=Lax guest cookie.
        const [post] = await wire.sent((r) => r.method === 'POST' && r.url === target);
        assert.ok(post, `${write.name}: the form post reached the Bookstore`);
        assert.equal(post.headers.origin, a.url, write.name);
        assert.equal(post.headers['sec-fetch-site'], 'cross-site', write.name);
        assert.equal(carries(post, GUEST_COOKIE), false, write.name);
        refused(post, write.name);
        wire.clear();

        // The write as the app itself makes it, from the attacker's page.
        await page.goto(a.page(`/fetch-${randomId(4)}`, '<!doctype html><title>offer</title>'));
        const outcome = await page.evaluate(
          async ({ target, init }) => {
            try {
              const res = await fetch(target, { ...init, credentials: 'include' });
              return `answered ${res.status}`;
            } catch {
              return 'blocked';
            }
          },
          { target, init: write.fetch },
        );
        assert.equal(outcome, 'blocked', `${write.name}: the page cannot read an answer`);
        const fetched = await wire.sent((r) => r.method === write.fetch.method && r.url === target);
        assert.ok(
          fetched.every((r) => r.status === undefined || r.status >= 400),
          `${write.name}: no cross-site fetch is accepted (its CORS preflight fails, or it is refused)`,
        );
        wire.clear();
      }
      wire.stop();
      await unchanged();
    },
  );

  test(
    'a 307 bounce of each write through a second site (Origin: null) creates no guest and keeps the guest cookie',
    step,
    async () => {
      const { url, a, b } = running();
      const { page, writes, wire, unchanged } = await victimWithCart(driver, running());

      for (const write of writes) {
        const id = randomId(4);
        const target = `${url}${write.path}`;
        const bounce = b.redirect(`/bounce-${id}`, target, 307);
        const form = autoSubmitForm(bounce, write.fields, { enctype: write.enctype });
        await visitAttack(page, a.page(`/start-${id}`, form), [a, b]);
        // Attacker B saw the post from A; the Bookstore saw it re-sent with an opaque origin.
        const atB = b.seen.find((r) => r.path === `/bounce-${id}`);
        assert.equal(atB?.method, 'POST', write.name);
        assert.equal(atB?.headers.origin, a.url, write.name);
        const [post] = await wire.sent((r) => r.method === 'POST' && r.url === target);
        assert.ok(post, `${write.name}: the bounced post reached the Bookstore`);
        assert.equal(post.headers.origin, 'null', write.name);
        assert.equal(post.headers['sec-fetch-site'], 'cross-site', write.name);
        assert.equal(carries(post, GUEST_COOKIE), false, write.name);
        refused(post, write.name);
        wire.clear();
      }
      wire.stop();
      await unchanged();
    },
  );
}

/** Registers the guest-creation limit's test, which has to come last in its file. */
export function guestLimitTest(
  driver: CrossSiteDriver,
  running: () => Attack,
  step: { timeout: number },
): void {
  test(
    'fresh cookie jars creating guests from one address get 429 with Retry-After by default',
    step,
    async () => {
      const { url } = running();
      const { method, path, headers, body, accepted } = driver.guestCreation;
      const statuses: number[] = [];
      let refusal: Response | undefined;
      // The limit counts in fixed windows of a minute from an address's first guest, here one of
      // the earlier tests': that window may end during the loop, after which the 61st guest of
      // the new window is refused. So up to two windows' worth, never a clock.
      for (let i = 0; i < 121 && refusal === undefined; i++) {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: { ...headers, 'sec-fetch-site': 'same-origin' },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(15_000),
        });
        if (res.status === 429) refusal = res;
        else {
          statuses.push(res.status);
          assert.match(res.headers.get('set-cookie') ?? '', /guestmode=gm_/, 'a new guest');
          await res.arrayBuffer();
        }
      }
      assert.ok(refusal, `the 61st guest of a window is refused (got ${statuses})`);
      assert.ok(
        statuses.every((s) => s === accepted),
        `${statuses}`,
      );
      if (refusal.headers.get('content-type')?.startsWith('application/json')) {
        const answer = (await refusal.json()) as { error: { code: string } };
        assert.equal(answer.error.code, 'rate_limited');
      } else {
        await refusal.arrayBuffer();
      }
      assert.ok(Number(refusal.headers.get('retry-after')) >= 1);
      assert.equal(refusal.headers.get('ratelimit-limit'), '60');
      assert.equal(refusal.headers.get('ratelimit-remaining'), '0');
      assert.equal(refusal.headers.get('set-cookie'), null);
    },
  );
}
