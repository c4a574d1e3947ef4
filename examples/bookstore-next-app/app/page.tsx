// The catalogue and the cart, rendered on the server from the visitor's guest (or account).
// Every button is a form posting a Server Action, so the shop works before any script loads.
import { cartOf } from '@guestmode/example-bookstore-next/books';
import {
  Cart,
  Catalogue,
  GuestNotice,
  Layout,
  type Theme,
  themeButtons,
} from '@guestmode/example-bookstore-next/shop';
import { bookstore } from '../lib/bookstore';
import { addToCart, emptyCart, setTheme } from './actions';

// Personal: rendered for each request, never at build time (the engine is configured at start).
export const dynamic = 'force-dynamic';

function Prefs(props: { theme: Theme }) {
  return (
    <form className="prefs" action={setTheme}>
      <span>Theme:</span>
      {themeButtons((value, label) => (
        <button
          key={value}
          type="submit"
          name="theme"
          value={value}
          className="small ghost"
          aria-pressed={props.theme === value}
        >
          {label}
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
    <Layout theme={theme} router="App Router" prefs={<Prefs theme={theme} />}>
      <GuestNotice
        kind={guest.kind}
        mergePending={guest.mergePending}
        confirmUrl={guest.confirmUrl}
      />
      <Catalogue
        row={(book, price) => (
          <form className="row" action={addToCart}>
            {price}
            <input type="hidden" name="id" value={book.id} />
            <button type="submit" title={book.title}>
              Add to cart
            </button>
          </form>
        )}
      />
      <aside>
        <Cart
          lines={cartOf(attributes.cart)}
          clear={
            <form action={emptyCart}>
              <button type="submit" className="ghost small">
                Empty cart
              </button>
            </form>
          }
        />
      </aside>
    </Layout>
  );
}
