// The suite's attacks on signing in and out: a forced sign-in that would merge a guest
// silently, a forged merge decision, a planted guest merged into the victim's account, and
// every way another site can reach sign-out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { autoSubmitForm, forcedNavigation, visitAttack, watchRequests } from '../attacker.js';
import { createAccount, newPage } from '../bookstore.js';
import { randomId } from '../util.js';
import {
  type Attack,
  CAT,
  type CrossSiteDriver,
  carries,
  GUEST_COOKIE,
  refused,
} from './driver.js';

/** Registers the tests of signing in and out. */
export function sessionTests(
  driver: CrossSiteDriver,
  running: () => Attack,
  step: { timeout: number },
): void {
  const auth = driver.authRoutes;

  /** Every way another site can hit sign-out: navigation, form post, image and fetch. */
  async function attackSignOut(page: Page, context: BrowserContext) {
    const { url, visit, a } = running();
    const signOutUrl = `${url}${auth}/sign-out`;
    const wire = watchRequests(context, url);
    await visit(page, 'sign-out', forcedNavigation(signOutUrl));
    const [navigation] = await wire.sent((r) => r.url === signOutUrl);
    assert.ok(navigation, 'the sign-out path was requested');
    assert.equal(navigation.method, 'GET');
    assert.equal(navigation.headers['sec-fetch-site'], 'cross-site');

    await visit(page, 'sign-out-post', autoSubmitForm(signOutUrl, { csrf: 'forged' }));
    await page.goto(a.page(`/sign-out-img-${randomId(4)}`, `<img src="${signOutUrl}" alt="">`));
    await page.evaluate(
      (target) =>
        fetch(target, { method: 'POST', credentials: 'include', mode: 'no-cors' }).then(
          () => 'sent',
          () => 'blocked',
        ),
      signOutUrl,
    );
    const sent = await wire.sent((r) => r.url === signOutUrl);
    wire.stop();
    const others = sent.slice(1);
    assert.ok(
      others.some((r) => r.method === 'POST' && r.headers['sec-fetch-dest'] === 'document'),
      'the form post reached the Bookstore',
    );
    // The image and the no-cors fetch show only the headers Chromium planned (their answers are
    // opaque to the page), so only their requests are counted.
    assert.ok(
      others.some((r) => r.method === 'GET'),
      'the image was requested',
    );
    assert.ok(others.filter((r) => r.method === 'POST').length >= 2, 'the fetch was sent');
    for (const request of others) {
      // Neither the Lax guest cookie nor the Lax session goes with a cross-site post or image.
      assert.notEqual(request.headers['sec-fetch-site'], 'same-origin', request.method);
      assert.equal(carries(request, GUEST_COOKIE), false, request.method);
      assert.equal(carries(request, driver.sessionCookie), false, request.method);
    }
    return navigation;
  }

  test(
    'a forced navigation to sign-in with a provider session does not merge the guest silently, and a cross-site post decides nothing',
    step,
    async () => {
      const {
        url,
        browser,
        records,
        idp,
        guestCookie,
        shop,
        signIn,
        isSignedIn,
        visit,
        backOnApp,
      } = running();
      const { context, page } = await newPage(browser);
      const user = await createAccount(idp);
      await shop(page, 0);
      await signIn(page, user.username);
      assert.deepEqual(await records.userCart(user.sub), CAT);
      // The Bookstore's session ends (expiry, another tab's sign-out); the provider's lives on.
      await context.clearCookies({ name: driver.sessionCookie });
      assert.equal(await isSignedIn(page), false);
      await shop(page, 1);
      const guest = await guestCookie(context);
      assert.ok(guest, 'a guest with a cart');
      const kokoro = [{ id: 'kokoro', quantity: 1 }];
      const wire = watchRequests(context, url);

      await visit(page, 'sign-in', forcedNavigation(`${url}${auth}/sign-in`));
      await backOnApp(page);

      const [start] = await wire.sent((r) => r.url === `${url}${auth}/sign-in`);
      assert.ok(start, 'the sign-in started');
      assert.equal(start.headers['sec-fetch-site'], 'cross-site');
      assert.equal(carries(start, GUEST_COOKIE), true, 'the Lax guest cookie goes with it');
      assert.deepEqual(await records.userCart(user.sub), CAT, 'not merged');
      assert.deepEqual(await records.guestCart(guest), kokoro, 'the guest is intact');
      assert.equal(new URL(page.url()).pathname, '/merge', 'the user is asked on the Bookstore');
      const decide = page.locator('form:has(button[name="decision"])');
      await decide.locator('button[name="decision"][value="merge"]').waitFor();
      await decide.locator('button[name="decision"][value="discard"]').waitFor();

      // The decision's form is public: another site posts either answer to it.
      const target = new URL((await decide.getAttribute('action')) ?? '', url).href;
      for (const decision of ['discard', 'merge']) {
        wire.clear();
        await visit(page, decision, autoSubmitForm(target, { decision, csrf: 'forged' }));
        const [post] = await wire.sent((r) => r.method === 'POST' && r.url === target);
        assert.ok(post, `the ${decision} post reached the Bookstore`);
        assert.equal(post.headers['sec-fetch-site'], 'cross-site');
        refused(post, decision);
      }
      wire.stop();
      assert.deepEqual(await records.userCart(user.sub), CAT, 'not merged by another site');
      assert.deepEqual(await records.guestCart(guest), kokoro, 'not discarded by another site');
      await page.goto(`${url}/merge`);
      await page.locator('button[name="decision"][value="merge"]').waitFor();
      await context.close();
    },
  );

  test(
    'the reproduced attack: a 307-planted guest and a forced sign-in put nothing in the account',
    step,
    async () => {
      const { url, browser, records, idp, shop, signIn, visit, backOnApp, a, b } = running();
      const { context, page } = await newPage(browser);
      const user = await createAccount(idp);
      await shop(page, 0);
      await signIn(page, user.username);
      assert.deepEqual(await records.userCart(user.sub), CAT);

      for (const write of await driver.forgedWrites(page, url)) {
        const id = randomId(4);
        const bounce = b.redirect(`/plant-${id}`, `${url}${write.path}`, 307);
        const form = autoSubmitForm(bounce, write.fields, { enctype: write.enctype });
        await visitAttack(page, a.page(`/plant-${id}`, form), [a, b]);
      }
      await visit(page, 'merge', forcedNavigation(`${url}${auth}/sign-in`));
      await backOnApp(page);

      assert.deepEqual(
        await records.userCart(user.sub),
        CAT,
        "the attacker's book is not in the victim's account",
      );
      await context.close();
    },
  );

  test(
    'a forced GET, form post, image or fetch of sign-out leaves a guest its cookie and cart',
    step,
    async () => {
      const { browser, records, guestCookie, shop } = running();
      const { context, page } = await newPage(browser);
      await shop(page, 2);
      const before = await guestCookie(context);
      assert.ok(before, 'the visitor is a guest');

      const navigation = await attackSignOut(page, context);
      assert.equal(carries(navigation, GUEST_COOKIE), true, 'the Lax guest cookie goes with it');

      assert.equal(await guestCookie(context), before, 'the guest cookie is intact');
      assert.deepEqual(await records.guestCart(before), [{ id: 'rashomon', quantity: 1 }]);
      await context.close();
    },
  );

  test(
    "a forced GET, form post, image or fetch of sign-out leaves a signed-in user signed in; the session's cookies are HttpOnly and SameSite=Lax",
    step,
    async () => {
      const { url, browser, idp, signIn, isSignedIn } = running();
      const { context, page } = await newPage(browser);
      const user = await createAccount(idp);
      await signIn(page, user.username);
      assert.ok(await isSignedIn(page));
      const session = (await context.cookies(url)).filter((c) => driver.sessionCookie.test(c.name));
      assert.ok(session.length > 0, 'the Bookstore has a session cookie');
      for (const cookie of session) {
        assert.equal(cookie.httpOnly, true, cookie.name);
        assert.equal(cookie.sameSite, 'Lax', cookie.name);
      }

      const navigation = await attackSignOut(page, context);
      assert.equal(
        carries(navigation, driver.sessionCookie),
        true,
        'the Lax session cookie goes too',
      );
      assert.ok(await isSignedIn(page), 'still signed in');
      await context.close();
    },
  );
}
