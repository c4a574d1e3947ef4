import type { MergePreview } from '@guestmode/core';
import type { PendingMerge } from '@guestmode/express';
import { BOOKS, type Book, findBook } from './books.js';
import { html, SafeHtml } from './html.js';
import { formatPrice, type Lang, type Messages, messages } from './i18n.js';

export interface CartLine {
  readonly id: string;
  readonly quantity: number;
}

export interface Draft {
  readonly id: string;
  readonly text: string;
}

/** What every page shows: who is browsing, their cart and preferences. */
export interface PageContext {
  readonly lang: Lang;
  readonly theme: 'light' | 'dark';
  readonly kind: 'user' | 'guest' | 'none';
  /** The guest's merge failed at sign-in for a temporary reason and is being retried. */
  readonly mergePending?: boolean;
  /** Where the user decides on a merge of their guest that waits for them. */
  readonly confirmUrl?: string | undefined;
  /** The signed-in user, with the CSRF token their sign-out form posts. */
  readonly user?: { readonly sub: string; readonly name?: string; readonly csrf: string };
  readonly cart: readonly CartLine[];
  readonly drafts: readonly Draft[];
  /** The path to come back to after a preference change. */
  readonly path: string;
}

const CSS = `
:root{--bg:#faf7f2;--fg:#1f2328;--muted:#5b6170;--card:#fff;--line:#e6e0d6;--accent:#9a3412;--accent-fg:#fff;--soft:#f3ede4}
[data-theme=dark]{--bg:#14161a;--fg:#e8e6e3;--muted:#a2a8b4;--card:#1d2026;--line:#30343c;--accent:#fb923c;--accent-fg:#1a1205;--soft:#252931}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",sans-serif}
a{color:var(--accent)}
header.top{display:flex;flex-wrap:wrap;gap:.75rem 1.5rem;align-items:center;justify-content:space-between;padding:1rem clamp(1rem,4vw,2.5rem);border-bottom:1px solid var(--line);background:var(--card)}
.brand{font-size:1.5rem;font-weight:700;text-decoration:none;color:var(--fg);letter-spacing:-.02em}
.brand small{display:block;font-size:.8rem;font-weight:400;color:var(--muted);letter-spacing:0}
.account{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.account form{display:inline}
.who{font-size:.9rem;color:var(--muted)}
.who b{color:var(--fg)}
.who code{font-size:.75rem}
.btn,button{font:inherit;border:1px solid var(--accent);background:var(--accent);color:var(--accent-fg);border-radius:.5rem;padding:.4rem .9rem;cursor:pointer;text-decoration:none;display:inline-block}
.btn.ghost,button.ghost{background:transparent;color:var(--accent)}
button.small{padding:.2rem .6rem;font-size:.85rem}
.prefs{display:flex;gap:1rem;flex-wrap:wrap;align-items:center;font-size:.9rem}
.prefs form{display:flex;gap:.3rem;align-items:center}
.prefs button[aria-pressed=true]{outline:2px solid var(--fg)}
main{display:grid;grid-template-columns:minmax(0,1fr) 20rem;gap:2rem;padding:1.5rem clamp(1rem,4vw,2.5rem);max-width:80rem;margin:0 auto}
@media (max-width:860px){main{grid-template-columns:1fr}}
.notice{grid-column:1/-1;background:var(--soft);border:1px solid var(--line);border-radius:.75rem;padding:.75rem 1rem;font-size:.95rem;margin:0}
h1,h2{letter-spacing:-.01em}
h2{margin:0 0 .75rem;font-size:1.2rem}
.grid{list-style:none;margin:0;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:1rem}
.book{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:1rem;display:flex;flex-direction:column;gap:.5rem}
.cover{height:7rem;border-radius:.4rem;color:#fff;display:flex;align-items:flex-end;padding:.6rem;font-weight:600;font-size:.95rem;line-height:1.25}
.book h3{margin:0;font-size:1.05rem}
.book .author{margin:0;color:var(--muted);font-size:.9rem}
.book .row{margin-top:auto;display:flex;justify-content:space-between;align-items:center;gap:.5rem;flex-wrap:wrap}
.price{font-weight:700}
aside section{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:1rem;position:sticky;top:1rem}
aside ul{list-style:none;margin:0 0 .75rem;padding:0}
aside li{padding:.35rem 0;border-bottom:1px dashed var(--line)}
.total{display:flex;justify-content:space-between;font-weight:700;margin:.5rem 0 .75rem}
.muted{color:var(--muted)}
textarea{width:100%;min-height:10rem;font:inherit;padding:.75rem;border-radius:.5rem;border:1px solid var(--line);background:var(--bg);color:var(--fg)}
.detail{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:1.25rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.4rem;border-bottom:1px solid var(--line);vertical-align:top}
.actions{display:flex;gap:.75rem;flex-wrap:wrap;margin-top:1rem}
footer{text-align:center;color:var(--muted);font-size:.8rem;padding:2rem 1rem}
`;

function prefs(ctx: PageContext, t: Messages): SafeHtml {
  const choice = (name: string, value: string, label: string, current: string) =>
    html`<button class="small ghost" name="${name}" value="${value}" aria-pressed="${current === value ? 'true' : 'false'}">${label}</button>`;
  return html`<div class="prefs">
<form method="post" action="/prefs"><input type="hidden" name="back" value="${ctx.path}"><span>${t.theme}:</span>${choice('theme', 'light', t.light, ctx.theme)}${choice('theme', 'dark', t.dark, ctx.theme)}</form>
<form method="post" action="/prefs"><input type="hidden" name="back" value="${ctx.path}"><span>${t.language}:</span>${choice('lang', 'en', 'English', ctx.lang)}${choice('lang', 'ja', '日本語', ctx.lang)}</form>
</div>`;
}

function account(ctx: PageContext, t: Messages): SafeHtml {
  if (ctx.user) {
    return html`<div class="account"><span class="who">${t.signedInAs} <b>${ctx.user.name ?? ctx.user.sub}</b> <code>(sub: ${ctx.user.sub})</code></span>
<form method="post" action="/logto/sign-out"><input type="hidden" name="csrf" value="${ctx.user.csrf}"><button class="btn ghost">${t.signOut}</button></form></div>`;
  }
  return html`<div class="account"><a class="btn" href="/logto/sign-in">${t.signIn}</a><a class="btn ghost" href="/logto/sign-up">${t.signUp}</a></div>`;
}

export function title(book: Book, lang: Lang): string {
  return book.title[lang];
}

function cart(ctx: PageContext, t: Messages): SafeHtml {
  const lines = ctx.cart
    .map((line) => ({ line, book: findBook(line.id) }))
    .filter((x): x is { line: CartLine; book: Book } => x.book !== undefined);
  const total = lines.reduce((sum, { line, book }) => sum + line.quantity * book.price, 0);
  const drafts = ctx.drafts.filter((d) => findBook(d.id));
  return html`<section aria-label="${t.cart}">
<h2>${t.cart}</h2>
${
  lines.length === 0
    ? html`<p class="muted">${t.cartEmpty}</p>`
    : html`<ul>${lines.map(({ line, book }) => html`<li>${title(book, ctx.lang)} × ${line.quantity}</li>`)}</ul>
<p class="total"><span>${t.total}</span><span>${formatPrice(total, ctx.lang)}</span></p>
<form method="post" action="/cart/clear"><button class="ghost small">${t.emptyCart}</button></form>`
}
${
  drafts.length > 0
    ? html`<h2 style="margin-top:1.25rem">${t.drafts}</h2><ul>${drafts.map((d) => html`<li><a href="/books/${d.id}">${title(findBook(d.id)!, ctx.lang)}</a></li>`)}</ul>`
    : ''
}
</section>`;
}

export function layout(ctx: PageContext, heading: string, body: SafeHtml, notice?: string): string {
  const t = messages(ctx.lang);
  const status =
    ctx.kind === 'user'
      ? ctx.confirmUrl
        ? html`${t.mergeWaits} <a href="${ctx.confirmUrl}">${t.mergeReview}</a>`
        : ctx.mergePending
          ? t.mergePending
          : undefined
      : ctx.kind === 'guest'
        ? t.guest
        : t.guestNone;
  return html`<!doctype html>
<html lang="${ctx.lang}" data-theme="${ctx.theme}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${heading} · Bookstore</title><style>${new SafeHtml(CSS)}</style></head>
<body>
<header class="top"><a class="brand" href="/">Bookstore<small>${t.tagline}</small></a>${prefs(ctx, t)}${account(ctx, t)}</header>
<main>
${notice ? html`<p class="notice" role="status">${notice}</p>` : status ? html`<p class="notice">${status}</p>` : ''}
<div>${body}</div>
<aside>${cart(ctx, t)}</aside>
</main>
<footer>Bookstore — a Guestmode demo (Express + Logto)</footer>
</body></html>`.value;
}

export function cataloguePage(ctx: PageContext): string {
  const t = messages(ctx.lang);
  const body = html`<h1 style="margin-top:0">${t.catalogue}</h1>
<ul class="grid">${BOOKS.map(
    (book) => html`<li class="book">
<div class="cover" style="background:${book.color}" aria-hidden="true">${title(book, ctx.lang)}</div>
<h3><a href="/books/${book.id}">${title(book, ctx.lang)}</a></h3>
<p class="author">${book.author[ctx.lang]}</p>
<div class="row"><span class="price">${formatPrice(book.price, ctx.lang)}</span>
<form method="post" action="/cart/add"><input type="hidden" name="book" value="${book.id}"><button title="${title(book, ctx.lang)}">${t.addToCart}</button></form></div>
</li>`,
  )}</ul>`;
  return layout(ctx, t.catalogue, body);
}

export function bookPage(ctx: PageContext, book: Book, saved: boolean): string {
  const t = messages(ctx.lang);
  const draft = ctx.drafts.find((d) => d.id === book.id)?.text ?? '';
  const body = html`<p><a href="/">${t.back}</a></p>
<div class="detail">
<h1 style="margin-top:0">${title(book, ctx.lang)}</h1>
<p class="muted">${book.author[ctx.lang]} · <span class="price">${formatPrice(book.price, ctx.lang)}</span></p>
<form method="post" action="/cart/add"><input type="hidden" name="book" value="${book.id}"><input type="hidden" name="back" value="/books/${book.id}"><button>${t.addToCart}</button></form>
<h2 style="margin-top:1.5rem"><label for="draft">${t.draftFor}</label></h2>
<p class="muted">${t.draftHint}</p>
<form method="post" action="/books/${book.id}/draft"><textarea id="draft" name="text" maxlength="4000">${draft}</textarea>
<div class="actions"><button>${t.saveDraft}</button></div></form>
</div>`;
  return layout(ctx, title(book, ctx.lang), body, saved ? t.draftSaved : undefined);
}

function describe(value: unknown, ctx: PageContext): string {
  if (value === undefined) return '—';
  if (Array.isArray(value)) {
    return value
      .map((item) => {
        const entry = item as { id?: string; quantity?: number; text?: string };
        const book = findBook(entry.id);
        const name = book ? title(book, ctx.lang) : String(entry.id);
        return typeof entry.quantity === 'number' ? `${name} × ${entry.quantity}` : name;
      })
      .join(', ');
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function mergePage(ctx: PageContext, pending: PendingMerge): string {
  const t = messages(ctx.lang);
  const preview: MergePreview = pending.preview;
  const names = Object.keys(preview.before.guest);
  const body = html`<div class="detail">
<h1 style="margin-top:0">${t.mergeTitle}</h1>
<p>${pending.reason === 'unbound' ? t.mergeUnbound : t.mergeConflict}</p>
<table><thead><tr><th></th><th>${t.before}</th><th>${t.guestSide}</th><th>${t.after}</th></tr></thead>
<tbody>${names.map(
    (name) =>
      html`<tr><th scope="row">${name}</th><td>${describe(preview.before.user[name], ctx)}</td><td>${describe(preview.before.guest[name], ctx)}</td><td>${describe(preview.after[name], ctx)}</td></tr>`,
  )}</tbody></table>
<form method="post" action="${pending.action}" class="actions"><input type="hidden" name="csrf" value="${pending.csrfToken}">
<button name="decision" value="merge">${t.merge}</button><button class="ghost" name="decision" value="discard">${t.discard}</button></form>
</div>`;
  return layout(ctx, t.mergeTitle, body);
}

export function messagePage(ctx: PageContext, heading: string, text: string): string {
  return layout(
    ctx,
    heading,
    html`<div class="detail"><h1 style="margin-top:0">${heading}</h1><p>${text}</p><p><a href="/">${messages(ctx.lang).back}</a></p></div>`,
  );
}
