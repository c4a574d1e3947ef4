export type Lang = 'en' | 'ja';

const en = {
  tagline: 'Classics for every shelf',
  catalogue: 'Catalogue',
  addToCart: 'Add to cart',
  writeReview: 'Write a review',
  cart: 'Cart',
  cartEmpty: 'Your cart is empty.',
  total: 'Total',
  emptyCart: 'Empty cart',
  signIn: 'Sign in',
  signUp: 'Create account',
  signOut: 'Sign out',
  signedInAs: 'Signed in as',
  mergePending: 'Your cart is being moved to your account…',
  mergeWaits: 'Your guest cart waits for your decision.',
  mergeReview: 'Review it',
  guest:
    'Browsing as a guest: your cart, drafts and settings are kept and move into your account when you sign in.',
  guestNone: 'Browsing as a guest. Add a book or change a setting to start your guest session.',
  theme: 'Theme',
  light: 'Light',
  dark: 'Dark',
  language: 'Language',
  back: '← Back to the catalogue',
  draftFor: 'Your draft review',
  draftHint:
    'Drafts are kept while you browse as a guest and move to your account when you sign in.',
  saveDraft: 'Save draft',
  draftSaved: 'Draft saved',
  drafts: 'Drafts',
  by: 'by',
  mergeTitle: 'Bring your guest data into your account?',
  mergeUnbound:
    'This browser holds guest data that was not there when you started signing in. If you did not add it yourself, discard it.',
  mergeConflict: 'Your account already has some of this data. Here is what it will look like:',
  before: 'In your account',
  guestSide: 'From this browser',
  after: 'After merging',
  merge: 'Merge into my account',
  discard: 'Discard guest data',
  notFound: 'Not found',
  error: 'Something went wrong',
};

const ja: typeof en = {
  tagline: 'どの本棚にも名作を',
  catalogue: '書籍一覧',
  addToCart: 'カートに入れる',
  writeReview: 'レビューを書く',
  cart: 'カート',
  cartEmpty: 'カートは空です。',
  total: '合計',
  emptyCart: 'カートを空にする',
  signIn: 'サインイン',
  signUp: 'アカウント作成',
  signOut: 'サインアウト',
  signedInAs: 'サインイン中:',
  mergePending: 'カートをアカウントに移しています…',
  mergeWaits: 'ゲストのカートがあなたの判断を待っています。',
  mergeReview: '確認する',
  guest:
    'ゲストとして閲覧中です。カート・下書き・設定は保存され、サインインするとアカウントに引き継がれます。',
  guestNone:
    'ゲストとして閲覧中です。本をカートに入れるか設定を変えるとゲストセッションが始まります。',
  theme: 'テーマ',
  light: 'ライト',
  dark: 'ダーク',
  language: '言語',
  back: '← 書籍一覧に戻る',
  draftFor: 'レビューの下書き',
  draftHint: '下書きはゲストのあいだ保存され、サインインするとアカウントに移ります。',
  saveDraft: '下書きを保存',
  draftSaved: '下書きを保存しました',
  drafts: '下書き',
  by: '著',
  mergeTitle: 'ゲストのデータをアカウントに取り込みますか?',
  mergeUnbound:
    'このブラウザには、サインインを始めたときにはなかったゲストデータがあります。心当たりがなければ破棄してください。',
  mergeConflict: 'アカウントにはすでに一部のデータがあります。取り込むと次のようになります:',
  before: 'アカウント',
  guestSide: 'このブラウザ',
  after: '取り込み後',
  merge: 'アカウントに取り込む',
  discard: 'ゲストデータを破棄',
  notFound: '見つかりません',
  error: 'エラーが発生しました',
};

export type Messages = typeof en;

export function messages(lang: Lang): Messages {
  return lang === 'ja' ? ja : en;
}

/** The stored preference, else the browser's first choice between English and Japanese. */
export function pickLang(stored: unknown, acceptLanguage: string | undefined): Lang {
  if (stored === 'en' || stored === 'ja') return stored;
  return /^\s*ja\b/i.test(acceptLanguage ?? '') ? 'ja' : 'en';
}

export function formatPrice(yen: number, lang: Lang): string {
  return new Intl.NumberFormat(lang === 'ja' ? 'ja-JP' : 'en-US', {
    style: 'currency',
    currency: 'JPY',
  }).format(yen);
}
