/**
 * The two small pages the adapters serve themselves: the confirm page of a pending merge and the
 * sign-out page. Plain HTML on the app's own origin, every interpolated value escaped; apps that
 * want their own look serve their own page (`confirmPath`) or their own sign-out form.
 */
import type { MergePreview } from '../merge/plan.js';
import type { PendingMergeReason } from './sign-in.js';

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><main style="font-family:system-ui;max-width:32rem;margin:3rem auto;padding:0 1rem"><h1>${escapeHtml(title)}</h1>${body}</main></html>`;
}

const INTRO: Readonly<Record<PendingMergeReason, string>> = {
  unbound: 'This browser holds guest data that was not there when you started signing in.',
  cross_site: 'This sign-in was started from another site, so we ask before using your guest data.',
  conflict: 'Your account already has some of this data.',
};

/**
 * The built-in confirm page: what the guest holds, and a form posting `csrf` and
 * `decision=merge|discard` to `action`.
 */
export function renderConfirmPage(pending: {
  readonly reason: PendingMergeReason;
  readonly preview: MergePreview;
  readonly action: string;
  readonly csrfToken: string;
}): string {
  const names = Object.keys(pending.preview.before.guest).map(escapeHtml).join(', ');
  return page(
    'Merge guest data?',
    `<p>${escapeHtml(INTRO[pending.reason])} Add it (${names}) to your account?</p><form method="post" action="${escapeHtml(pending.action)}"><input type="hidden" name="csrf" value="${escapeHtml(pending.csrfToken)}"><button name="decision" value="merge">Merge</button> <button name="decision" value="discard">Discard</button></form>`,
  );
}

/**
 * The page a `GET` of the sign-out path answers: it changes nothing, and offers a button that
 * posts `csrf` back to `action` (sign-out is a same-origin POST).
 */
export function renderSignOutPage(form: { readonly action: string; readonly csrfToken: string }) {
  return page(
    'Sign out?',
    `<form method="post" action="${escapeHtml(form.action)}"><input type="hidden" name="csrf" value="${escapeHtml(form.csrfToken)}"><button>Sign out</button></form>`,
  );
}
