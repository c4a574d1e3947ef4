/** The catalogue: server data, never taken from the request. Prices in yen. */
export interface Book {
  readonly id: string;
  readonly title: { readonly en: string; readonly ja: string };
  readonly author: { readonly en: string; readonly ja: string };
  readonly price: number;
  /** Cover colour. */
  readonly color: string;
}

export const BOOKS: readonly Book[] = [
  {
    id: 'i-am-a-cat',
    title: { en: 'I Am a Cat', ja: '吾輩は猫である' },
    author: { en: 'Natsume Sōseki', ja: '夏目漱石' },
    price: 1320,
    color: '#b45309',
  },
  {
    id: 'kokoro',
    title: { en: 'Kokoro', ja: 'こころ' },
    author: { en: 'Natsume Sōseki', ja: '夏目漱石' },
    price: 990,
    color: '#be123c',
  },
  {
    id: 'rashomon',
    title: { en: 'Rashōmon and Other Stories', ja: '羅生門・鼻' },
    author: { en: 'Ryūnosuke Akutagawa', ja: '芥川龍之介' },
    price: 880,
    color: '#4d7c0f',
  },
  {
    id: 'night-train',
    title: { en: 'Night on the Galactic Railroad', ja: '銀河鉄道の夜' },
    author: { en: 'Kenji Miyazawa', ja: '宮沢賢治' },
    price: 1100,
    color: '#1d4ed8',
  },
  {
    id: 'pride-and-prejudice',
    title: { en: 'Pride and Prejudice', ja: '高慢と偏見' },
    author: { en: 'Jane Austen', ja: 'ジェイン・オースティン' },
    price: 1540,
    color: '#7e22ce',
  },
  {
    id: 'moby-dick',
    title: { en: 'Moby-Dick', ja: '白鯨' },
    author: { en: 'Herman Melville', ja: 'ハーマン・メルヴィル' },
    price: 1980,
    color: '#0f766e',
  },
  {
    id: 'frankenstein',
    title: { en: 'Frankenstein', ja: 'フランケンシュタイン' },
    author: { en: 'Mary Shelley', ja: 'メアリー・シェリー' },
    price: 1210,
    color: '#334155',
  },
  {
    id: 'alice',
    title: { en: "Alice's Adventures in Wonderland", ja: '不思議の国のアリス' },
    author: { en: 'Lewis Carroll', ja: 'ルイス・キャロル' },
    price: 1045,
    color: '#c2410c',
  },
];

const byId = new Map(BOOKS.map((book) => [book.id, book]));

export function findBook(id: unknown): Book | undefined {
  return typeof id === 'string' ? byId.get(id) : undefined;
}
