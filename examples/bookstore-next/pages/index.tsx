import type { GuestProfile } from '@guestmode/next';
import { useGuest } from '@guestmode/next/client';
import type { GetServerSideProps } from 'next';
import { useState } from 'react';
import { addToCart, BOOKS, type CartLine, cartOf, findBook, formatPrice } from '../lib/books';
import { bookstore } from '../lib/bookstore';
import { Layout } from '../lib/ui';

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

function Cart(props: { lines: CartLine[]; onClear: () => void }) {
  const lines = props.lines.flatMap((line) => {
    const book = findBook(line.id);
    return book ? [{ line, book }] : [];
  });
  const total = lines.reduce((sum, { line, book }) => sum + line.quantity * book.price, 0);
  return (
    <section aria-label="Cart">
      <h2>Cart</h2>
      {lines.length === 0 ? (
        <p className="muted">Your cart is empty.</p>
      ) : (
        <>
          <ul>
            {lines.map(({ line, book }) => (
              <li key={book.id}>
                {book.title} × {line.quantity}
              </li>
            ))}
          </ul>
          <p className="total">
            <span>Total</span>
            <span>{formatPrice(total)}</span>
          </p>
          <button type="button" className="ghost small" onClick={props.onClear}>
            Empty cart
          </button>
        </>
      )}
    </section>
  );
}

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
      {(['light', 'dark'] as const).map((value) => (
        <button
          key={value}
          type="button"
          className="small ghost"
          aria-pressed={theme === value}
          onClick={() => report(set('theme', value))}
        >
          {value === 'light' ? 'Light' : 'Dark'}
        </button>
      ))}
    </div>
  );

  return (
    <Layout theme={theme} prefs={prefs}>
      {failure ? (
        <p className="notice" role="alert">
          {failure}
        </p>
      ) : kind === 'user' ? (
        current?.mergePending ? (
          <p className="notice" role="status">
            Your cart is being moved to your account…
          </p>
        ) : null
      ) : (
        <p className="notice">
          {kind === 'guest'
            ? 'You are shopping as a guest. Sign in or create an account and your cart comes with you.'
            : 'Browse freely: nothing is stored until you add something to your cart.'}
        </p>
      )}
      <div>
        <h1 style={{ marginTop: 0 }}>Catalogue</h1>
        <ul className="grid">
          {BOOKS.map((book) => (
            <li key={book.id} className="book">
              <div className="cover" style={{ background: book.color }} aria-hidden="true">
                {book.title}
              </div>
              <h3>{book.title}</h3>
              <p className="author">{book.author}</p>
              <div className="row">
                <span className="price">{formatPrice(book.price)}</span>
                <button
                  type="button"
                  title={book.title}
                  onClick={() => report(set('cart', (cart) => addToCart(cart, book.id)))}
                >
                  Add to cart
                </button>
              </div>
            </li>
          ))}
        </ul>
      </div>
      <aside>
        <Cart lines={cartOf(attributes.cart)} onClear={() => report(remove('cart'))} />
      </aside>
    </Layout>
  );
}
