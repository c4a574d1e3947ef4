/**
 * The sign-in experience's two languages. English strings are part of the contract: other
 * programs find fields and buttons by these accessible names (`Username`, `Password`,
 * `Sign in`, `Create account`, `Continue with <name>`).
 */
export type Locale = 'en' | 'ja';

export const LOCALES: readonly Locale[] = ['en', 'ja'];

const en = {
  htmlLang: 'en',
  signInTitle: 'Sign in',
  signInTo: (app: string) => `Sign in to ${app}`,
  signUpTitle: 'Create your account',
  signUpFor: (app: string) => `Create an account for ${app}`,
  username: 'Username',
  password: 'Password',
  signIn: 'Sign in',
  createAccount: 'Create account',
  continueWith: (name: string) => `Continue with ${name}`,
  or: 'or',
  noAccount: 'No account yet?',
  toSignUp: 'Create one',
  haveAccount: 'Already have an account?',
  toSignIn: 'Sign in',
  switchLanguage: '日本語',
  devOnly: 'Guestmode local identity provider: for development only.',
  errors: {
    invalid_credentials: 'The username or password is incorrect.',
    username_required: 'Enter a username.',
    password_required: 'Enter a password.',
    username_invalid:
      'Use 3 to 64 characters: letters, digits, dot, hyphen or underscore, starting with a letter or digit.',
    password_too_short: 'Use a password of at least 8 characters.',
    password_too_long: 'Use a password of at most 256 characters.',
    username_taken: 'This username is already taken.',
    social_failed: 'Signing in with that account did not work. Please try again.',
    identity_taken: 'That social account is already linked to another user.',
    session_expired: 'This sign-in session has expired. Go back to the app and try again.',
  },
};

export type Messages = typeof en;
export type PageErrorCode = keyof Messages['errors'];

const ja: Messages = {
  htmlLang: 'ja',
  signInTitle: 'サインイン',
  signInTo: (app) => `${app} にサインイン`,
  signUpTitle: 'アカウントを作成',
  signUpFor: (app) => `${app} のアカウントを作成`,
  username: 'ユーザー名',
  password: 'パスワード',
  signIn: 'サインイン',
  createAccount: 'アカウントを作成',
  continueWith: (name) => `${name} で続ける`,
  or: 'または',
  noAccount: 'アカウントをお持ちでない方',
  toSignUp: '新規作成',
  haveAccount: 'アカウントをお持ちの方',
  toSignIn: 'サインイン',
  switchLanguage: 'English',
  devOnly: 'Guestmode ローカル ID プロバイダー: 開発専用です。',
  errors: {
    invalid_credentials: 'ユーザー名またはパスワードが正しくありません。',
    username_required: 'ユーザー名を入力してください。',
    password_required: 'パスワードを入力してください。',
    username_invalid:
      '3〜64 文字の英数字、ドット、ハイフン、アンダースコアを使用し、英数字で始めてください。',
    password_too_short: 'パスワードは 8 文字以上にしてください。',
    password_too_long: 'パスワードは 256 文字以内にしてください。',
    username_taken: 'このユーザー名は既に使われています。',
    social_failed: 'そのアカウントでのサインインに失敗しました。もう一度お試しください。',
    identity_taken: 'そのソーシャルアカウントは別のユーザーに連携済みです。',
    session_expired:
      'このサインインセッションは期限切れです。アプリに戻ってもう一度お試しください。',
  },
};

const MESSAGES: Record<Locale, Messages> = { en, ja };

export function messages(locale: Locale): Messages {
  return MESSAGES[locale];
}

/**
 * Picks the page language: an explicit `?lang=` (or form field) wins, then the
 * `Accept-Language` header by quality, then English.
 */
export function pickLocale(explicit: string | null | undefined, acceptLanguage?: string): Locale {
  if (explicit === 'en' || explicit === 'ja') return explicit;
  const ranked = (acceptLanguage ?? '')
    .split(',')
    .map((part) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.find((p) => p.trim().startsWith('q='));
      return { tag: tag.toLowerCase(), q: q ? Number(q.trim().slice(2)) || 0 : 1 };
    })
    .filter((entry) => entry.tag && entry.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { tag } of ranked) {
    const base = tag.split('-')[0];
    if (base === 'ja' || base === 'en') return base;
  }
  return 'en';
}
