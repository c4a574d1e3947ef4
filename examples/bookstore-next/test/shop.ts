// How the Pages Router Bookstore's browser tests click its shop: `useGuest()` writes each change
// through the guest API once the page has hydrated.
import type { BookstoreDriver } from '@guestmode/testkit/bookstore';
import type { Page } from 'playwright-core';

/** Clicks with `click` and waits until the guest API has answered the write of `attribute`. */
async function write(page: Page, attribute: string, click: () => Promise<void>) {
  await Promise.all([
    page.waitForResponse(
      (r) =>
        r.url().endsWith(`/api/guestmode/attributes/${attribute}`) &&
        r.request().method() === 'PUT',
    ),
    click(),
  ]);
}

export const shop = {
  home: async (page, url) => {
    await page.goto(url);
    await page.locator('.account a, .account button').first().waitFor();
  },
  addToCart: (page, index) =>
    write(page, 'cart', () => page.getByRole('button', { name: 'Add to cart' }).nth(index).click()),
  chooseTheme: (page, label) =>
    write(page, 'theme', () => page.getByRole('button', { name: label }).click()),
  themeHolder: '.page',
  userRoute: '/api/logto/user',
} satisfies Pick<
  BookstoreDriver,
  'home' | 'addToCart' | 'chooseTheme' | 'themeHolder' | 'userRoute'
>;
