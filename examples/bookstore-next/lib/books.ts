/** The catalogue: server and page data, never taken from the request. Prices in yen. */
export interface Book {
  readonly id: string;
  readonly title: string;
  readonly author: string;
  readonly price: number;
  /** Cover colour. */
  readonly color: string;
}

export const BOOKS: readonly Book[] = [
  {
    id: 'i-am-a-cat',
    title: 'I Am a Cat',
    author: 'Natsume Sōseki',
    price: 1320,
    color: '#b45309',
  },
  { id: 'kokoro', title: 'Kokoro', author: 'Natsume Sōseki', price: 990, color: '#be123c' },
  {
    id: 'rashomon',
    title: 'Rashōmon and Other Stories',
    author: 'Ryūnosuke Akutagawa',
    price: 880,
    color: '#4d7c0f',
  },
  {
    id: 'night-train',
    title: 'Night on the Galactic Railroad',
    author: 'Kenji Miyazawa',
    price: 1100,
    color: '#1d4ed8',
  },
  {
    id: 'pride-and-prejudice',
    title: 'Pride and Prejudice',
    author: 'Jane Austen',
    price: 1540,
    color: '#7e22ce',
  },
  { id: 'moby-dick', title: 'Moby-Dick', author: 'Herman Melville', price: 1980, color: '#0f766e' },
];

const byId = new Map(BOOKS.map((book) => [book.id, book]));

export function findBook(id: unknown): Book | undefined {
  return typeof id === 'string' ? byId.get(id) : undefined;
}

export interface CartLine {
  readonly id: string;
  readonly quantity: number;
}

export const MAX_QUANTITY = 99;

/** The cart attribute as stored, keeping only well-formed lines of known books. */
export function cartOf(value: unknown): CartLine[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (l): l is CartLine =>
      typeof l === 'object' &&
      l !== null &&
      findBook((l as CartLine).id) !== undefined &&
      Number.isInteger((l as CartLine).quantity),
  );
}

/** The cart with one more copy of `id` (a new line at the end, or a higher quantity). */
export function addToCart(value: unknown, id: string): CartLine[] {
  const cart = cartOf(value).map((line) => ({ ...line }));
  const line = cart.find((l) => l.id === id);
  if (line) line.quantity = Math.min(MAX_QUANTITY, line.quantity + 1);
  else cart.push({ id, quantity: 1 });
  return cart;
}

export function formatPrice(yen: number): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: 'JPY' }).format(yen);
}
