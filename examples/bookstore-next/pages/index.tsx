import type { GuestProfile } from '@guestmode/next';
import { useGuest } from '@guestmode/next/client';
import type { GetServerSideProps } from 'next';
import { useState } from 'react';
import { addToCart, cartOf } from '../lib/books';
import { bookstore } from '../lib/bookstore';
import { Cart, Catalogue, GuestNotice, Layout, themeButtons } from '../lib/shop';

interface Props {
  /** Rendered on the server so the cart shows on first paint; SWR takes over from there. */
  readonly profile: GuestProfile;
}

export const getServerSideProps: GetServerSideProps<Props> = (context) =>
  bookstore().guestmode.withGuestSsr<{ profile: GuestProfile }>(async ({ guest, res }) => {
    // The page shows this visitor's cart: never cached, and never shared across cookies.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Vary', 'Cookie');
    return { props: { profile: await guest.profile() } };
  })(context);

export default function Home({ profile }: Props) {
  const { attributes, kind, set, remove, profile: current } = useGuest({ fallbackData: profile });
  const [failure, setFailure] = useState<string>();
  const theme = attributes.theme === 'dark' ? 'dark' : 'light';
  const report = (promise: Promise<unknown>) => {
    setFailure(undefined);
    promise.catch((error: unknown) =>
      setFailure(`Not saved: ${error instanceof Error ? error.message : String(error)}`),
    );
  };

  const prefs = (
    <div className="prefs">
      <span>Theme:</span>
      {themeButtons((value, label) => (
        <button
          key={value}
          type="button"
          className="small ghost"
          aria-pressed={theme === value}
          onClick={() => report(set('theme', value))}
        >
          {label}
        </button>
      ))}
    </div>
  );

  return (
    <Layout theme={theme} router="Pages Router" prefs={prefs}>
      {failure ? (
        <p className="notice" role="alert">
          {failure}
        </p>
      ) : (
        <GuestNotice
          kind={kind}
          mergePending={current?.mergePending}
          confirmUrl={current?.confirmUrl}
        />
      )}
      <Catalogue
        row={(book, price) => (
          <div className="row">
            {price}
            <button
              type="button"
              title={book.title}
              onClick={() => report(set('cart', (cart) => addToCart(cart, book.id)))}
            >
              Add to cart
            </button>
          </div>
        )}
      />
      <aside>
        <Cart
          lines={cartOf(attributes.cart)}
          clear={
            <button type="button" className="ghost small" onClick={() => report(remove('cart'))}>
              Empty cart
            </button>
          }
        />
      </aside>
    </Layout>
  );
}
