// The catalogue and the cart, rendered on the server from the visitor's guest (or account).
// Every button is a form posting a Server Action, so the shop works before any script loads.
import {
  BOOKS,
  type CartLine,
  cartOf,
  findBook,
  formatPrice,
} from '@guestmode/example-bookstore-next/books';
import { bookstore } from '../lib/bookstore';
import { Layout } from '../lib/ui';
import { addToCart, emptyCart, setTheme } from './actions';

// Personal: rendered for each request, never at build time (the engine is configured at start).
export const dynamic = 'force-dynamic';

function Cart(props: { lines: CartLine[] }) {
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
          <form action={emptyCart}>
            <button type="submit" className="ghost small">
              Empty cart
            </button>
          </form>
        </>
      )}
    </section>
  );
}

function Prefs(props: { theme: 'light' | 'dark' }) {
  return (
    <form className="prefs" action={setTheme}>
      <span>Theme:</span>
      {(['light', 'dark'] as const).map((value) => (
        <button
          key={value}
          type="submit"
          name="theme"
          value={value}
          className="small ghost"
          aria-pressed={props.theme === value}
        >
          {value === 'light' ? 'Light' : 'Dark'}
        </button>
      ))}
    </form>
  );
}

export default async function Home() {
  const guest = await bookstore().readGuest();
  const attributes = await guest.all();
  const theme = attributes.theme === 'dark' ? 'dark' : 'light';
  return (
    <Layout theme={theme} prefs={<Prefs theme={theme} />}>
      {guest.kind === 'user' ? (
        guest.mergePending ? (
          <p className="notice" role="status">
            Your cart is being moved to your account…
          </p>
        ) : null
      ) : (
        <p className="notice">
          {guest.kind === 'guest'
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
              <form className="row" action={addToCart}>
                <span className="price">{formatPrice(book.price)}</span>
                <input type="hidden" name="id" value={book.id} />
                <button type="submit" title={book.title}>
                  Add to cart
                </button>
              </form>
            </li>
          ))}
        </ul>
      </div>
      <aside>
        <Cart lines={cartOf(attributes.cart)} />
      </aside>
    </Layout>
  );
}
