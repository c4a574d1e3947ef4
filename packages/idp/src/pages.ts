import { createHash } from 'node:crypto';
import { type Locale, type Messages, messages, type PageErrorCode } from './i18n.js';

/**
 * Server-rendered pages of the sign-in experience. Plain template strings: every interpolated
 * value goes through {@link escapeHtml}; the only inline style and script are allowed by hash in
 * the Content-Security-Policy, so no `unsafe-inline` is needed.
 */

export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

const CSS = `*{box-sizing:border-box}body{margin:0;min-height:100vh;display:flex;flex-direction:column;align-items:center;justify-content:center;background:#f4f5f7;color:#1b1d21;font:16px/1.5 system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",sans-serif}main{width:100%;max-width:380px;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.08),0 8px 24px rgba(0,0,0,.06);padding:32px}h1{font-size:1.35rem;margin:0 0 20px}label{display:block;font-weight:600;font-size:.9rem;margin:14px 0 6px}input[type=text],input[type=password]{width:100%;padding:10px 12px;border:1px solid #c9ccd3;border-radius:8px;font:inherit}input:focus{outline:2px solid #5d34f2;outline-offset:1px}button{width:100%;margin-top:20px;padding:11px;border:0;border-radius:8px;font:inherit;font-weight:600;cursor:pointer;background:#5d34f2;color:#fff}button:hover{background:#4a22d9}.social button{display:flex;align-items:center;justify-content:center;gap:10px;margin-top:10px;background:#fff;color:#1b1d21;border:1px solid #c9ccd3}.social button:hover{background:#f4f5f7}.social img{width:20px;height:20px}.alert{background:#fdecec;color:#a11;border-radius:8px;padding:10px 12px;margin-bottom:8px}.or{text-align:center;color:#6b7080;margin:20px 0 0;font-size:.85rem}.alt{margin:20px 0 0;text-align:center;font-size:.9rem}a{color:#5d34f2}footer{margin:16px;font-size:.8rem;color:#6b7080;text-align:center}`;

/** The sign-out page's only script: submit the confirmation form so no click is needed. */
export const LOGOUT_SCRIPT = `document.getElementById('op.logoutForm').submit();`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The policy for every page this package renders. */
export const PAGE_CSP = [
  "default-src 'none'",
  `style-src ${sha256(CSS)}`,
  // Connector logos are configured URLs (often on the provider's CDN) or data: URIs.
  'img-src https: http: data:',
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The sign-out page adds the hash of its auto-submit script. */
export const LOGOUT_CSP = `${PAGE_CSP}; script-src ${sha256(LOGOUT_SCRIPT)}`;

function layout(t: Messages, title: string, body: string, langSwitch?: string): string {
  const switcher = langSwitch
    ? `<p class="alt"><a href="${escapeHtml(langSwitch)}" hreflang="${t.htmlLang === 'en' ? 'ja' : 'en'}">${t.switchLanguage}</a></p>`
    : '';
  return `<!DOCTYPE html>
<html lang="${t.htmlLang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
${switcher}
</main>
<footer>${t.devOnly}</footer>
</body>
</html>`;
}

export interface SocialButton {
  id: string;
  name: string;
  logo?: string;
}

export interface FormPageInput {
  locale: Locale;
  uid: string;
  appName: string;
  csrf: string;
  error?: PageErrorCode;
  username?: string;
  connectors: SocialButton[];
}

function errorBox(t: Messages, error: PageErrorCode | undefined): string {
  return error ? `<div class="alert" role="alert">${escapeHtml(t.errors[error])}</div>` : '';
}

function credentialsForm(
  t: Messages,
  input: FormPageInput,
  action: string,
  submit: string,
  passwordAutocomplete: string,
) {
  const value = input.username ? ` value="${escapeHtml(input.username)}"` : '';
  return `<form method="post" action="${escapeHtml(action)}" novalidate>
<input type="hidden" name="csrf" value="${escapeHtml(input.csrf)}">
<input type="hidden" name="lang" value="${input.locale}">
<label for="username">${t.username}</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required${value}${input.error && !input.username ? ' autofocus' : ''}>
<label for="password">${t.password}</label>
<input type="password" id="password" name="password" autocomplete="${passwordAutocomplete}" required${input.username ? ' autofocus' : ''}>
<button type="submit">${submit}</button>
</form>`;
}

function socialButtons(t: Messages, input: FormPageInput): string {
  if (input.connectors.length === 0) return '';
  const base = `/interaction/${encodeURIComponent(input.uid)}/social/`;
  const buttons = input.connectors
    .map(
      (c) => `<form method="post" action="${escapeHtml(base + encodeURIComponent(c.id))}">
<input type="hidden" name="csrf" value="${escapeHtml(input.csrf)}">
<input type="hidden" name="lang" value="${input.locale}">
<button type="submit">${c.logo ? `<img src="${escapeHtml(c.logo)}" alt="">` : ''}<span>${escapeHtml(t.continueWith(c.name))}</span></button>
</form>`,
    )
    .join('\n');
  return `<p class="or">${t.or}</p><div class="social">${buttons}</div>`;
}

/** The sign-in page of an interaction. */
export function signInPage(input: FormPageInput): string {
  const t = messages(input.locale);
  const base = `/interaction/${encodeURIComponent(input.uid)}`;
  const other = input.locale === 'en' ? 'ja' : 'en';
  const body = `<h1>${escapeHtml(t.signInTo(input.appName))}</h1>
${errorBox(t, input.error)}
${credentialsForm(t, input, `${base}/sign-in`, t.signIn, 'current-password')}
${socialButtons(t, input)}
<p class="alt">${t.noAccount} <a href="${escapeHtml(`${base}/sign-up?lang=${input.locale}`)}">${t.toSignUp}</a></p>`;
  return layout(t, t.signInTitle, body, `${base}?lang=${other}`);
}

/** The sign-up page of an interaction. */
export function signUpPage(input: FormPageInput): string {
  const t = messages(input.locale);
  const base = `/interaction/${encodeURIComponent(input.uid)}`;
  const other = input.locale === 'en' ? 'ja' : 'en';
  const body = `<h1>${escapeHtml(t.signUpFor(input.appName))}</h1>
${errorBox(t, input.error)}
${credentialsForm(t, input, `${base}/sign-up`, t.createAccount, 'new-password')}
${socialButtons(t, input)}
<p class="alt">${t.haveAccount} <a href="${escapeHtml(`${base}?lang=${input.locale}`)}">${t.toSignIn}</a></p>`;
  return layout(t, t.signUpTitle, body, `${base}/sign-up?lang=${other}`);
}

/** A page for dead ends (expired interaction, failed social sign-in without an interaction). */
export function messagePage(locale: Locale, title: string, text: string): string {
  const t = messages(locale);
  return layout(t, title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>`);
}

/**
 * oidc-provider's sign-out confirmation, submitted by script so RP-initiated logout returns to
 * the app without a click (as in Logto). `logout=yes` ends the whole session, not only this
 * client's grant. A button remains for browsers without script.
 */
export function logoutPage(form: string): string {
  const t = messages('en');
  const withLogout = form.replace(
    '</form>',
    '<input type="hidden" name="logout" value="yes"></form>',
  );
  const body = `<h1>Signing out…</h1>
${withLogout}
<noscript><button type="submit" form="op.logoutForm">Sign out</button></noscript>
<script>${LOGOUT_SCRIPT}</script>`;
  return layout(t, 'Signing out', body);
}

export function errorPage(error: string, description?: string): string {
  const t = messages('en');
  const body = `<h1>Something went wrong</h1>
<p><code>${escapeHtml(error)}</code></p>
${description ? `<p>${escapeHtml(description)}</p>` : ''}`;
  return layout(t, 'Error', body);
}
