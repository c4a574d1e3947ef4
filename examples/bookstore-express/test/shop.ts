// How the Express Bookstore's browser tests click its shop: every action is a form post that
// the server answers with a redirect back to the shop.
import type { BookstoreDriver } from '@guestmode/testkit/bookstore';
import type { Page } from 'playwright-core';

/** A form post answered with a redirect back to the shop. */
async function post(page: Page, url: string, click: () => Promise<void>) {
  await Promise.all([page.waitForURL(`${url}/`), click()]);
}

export const shop = {
  home: async (page, url) => {
    await page.goto(url);
  },
  addToCart: (page, index, url) =>
    post(page, url, () => page.getByRole('button', { name: 'Add to cart' }).nth(index).click()),
  chooseTheme: (page, label, url) =>
    post(page, url, () => page.getByRole('button', { name: label }).click()),
  themeHolder: 'html',
} satisfies Pick<BookstoreDriver, 'home' | 'addToCart' | 'chooseTheme' | 'themeHolder'>;
