// The markup both Next Bookstores share: the page frame, the catalogue, the cart and the merge
// confirmation. Each router supplies only its data and its controls (buttons calling the guest
// API in the Pages Router, forms posting Server Actions in the App Router).
import type { PendingMerge } from '@guestmode/next';
import type { ReactNode } from 'react';
import { Account } from './account';
import { BOOKS, type Book, type CartLine, findBook, formatPrice } from './books';

export type Theme = 'light' | 'dark';

export function Layout(props: {
  theme: Theme;
  router: string;
  prefs?: ReactNode;
  children: ReactNode;
}) {
  return (
    <div className="page" data-theme={props.theme}>
      <header className="top">
        <a className="brand" href="/">
          Bookstore<small>Browse as a guest; your cart stays yours.</small>
        </a>
        {props.prefs}
        <Account />
      </header>
      <main>{props.children}</main>
      <footer>Bookstore — a Guestmode demo (Next.js {props.router} + Logto)</footer>
    </div>
  );
}

/** What a visitor who is not signed in is told (nothing for a signed-in user). */
export function GuestNotice(props: {
  kind: 'guest' | 'user' | 'none' | undefined;
  /** A merge that failed at sign-in is being retried: the cart is not in the account yet. */
  mergePending?: boolean;
  /** Where the user decides on a merge of their guest that waits for them. */
  confirmUrl?: string | undefined;
}) {
  if (props.kind === 'user') {
    if (props.confirmUrl) {
      return (
        <p className="notice" role="status">
          Your guest cart waits for your decision. <a href={props.confirmUrl}>Review it</a>
        </p>
      );
    }
    return props.mergePending ? (
      <p className="notice" role="status">
        Your cart is being moved to your account…
      </p>
    ) : null;
  }
  return (
    <p className="notice">
      {props.kind === 'guest'
        ? 'You are shopping as a guest. Sign in or create an account and your cart comes with you.'
        : 'Browse freely: nothing is stored until you add something to your cart.'}
    </p>
  );
}

/** The theme buttons; `button(value, label)` renders one with the router's way of saving it. */
export function themeButtons(button: (value: Theme, label: string) => ReactNode): ReactNode[] {
  return (['light', 'dark'] as const).map((value) =>
    button(value, value === 'light' ? 'Light' : 'Dark'),
  );
}

/** The books; `row(book, price)` renders the price and the book's "Add to cart" control. */
export function Catalogue(props: { row: (book: Book, price: ReactNode) => ReactNode }) {
  return (
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
            {props.row(book, <span className="price">{formatPrice(book.price)}</span>)}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The cart's lines and total; `clear` is the router's "Empty cart" control. */
export function Cart(props: { lines: CartLine[]; clear: ReactNode }) {
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
          {props.clear}
        </>
      )}
    </section>
  );
}

function describe(value: unknown): string {
  if (value === undefined) return '—';
  if (Array.isArray(value)) {
    return value
      .map((item) => {
        const entry = item as { id?: string; quantity?: number };
        const name = findBook(entry.id)?.title ?? String(entry.id);
        return typeof entry.quantity === 'number' ? `${name} × ${entry.quantity}` : name;
      })
      .join(', ');
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The confirm page's body: before/after of the merge the user decides on, and the form. */
export function MergeConfirm({ pending }: { pending: PendingMerge }) {
  const { preview } = pending;
  const names = Object.keys(preview.before.guest);
  return (
    <div className="detail">
      <h1 style={{ marginTop: 0 }}>Merge your guest data?</h1>
      <p>
        {pending.reason === 'unbound'
          ? 'This browser holds guest data that was not there when you started signing in. Merge it only if it is yours.'
          : 'Your account already has some of this data. Here is what merging would do.'}
      </p>
      <table>
        <thead>
          <tr>
            <th />
            <th>Your account now</th>
            <th>This browser</th>
            <th>After merging</th>
          </tr>
        </thead>
        <tbody>
          {names.map((name) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td>{describe(preview.before.user[name])}</td>
              <td>{describe(preview.before.guest[name])}</td>
              <td>{describe(preview.after[name])}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form method="post" action={pending.action} className="actions">
        <input type="hidden" name="csrf" value={pending.csrfToken} />
        <button type="submit" name="decision" value="merge">
          Merge
        </button>
        <button type="submit" className="ghost" name="decision" value="discard">
          Discard
        </button>
      </form>
    </div>
  );
}
