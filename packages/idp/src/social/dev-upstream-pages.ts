import { escapeHtml } from '../pages.js';
import type { DevUpstreamUser } from './dev-upstream.js';

/**
 * The development upstream's HTML: every page carries the development-only banner, and every
 * value from a request or a demo user is escaped.
 */

function page(title: string, content: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body><main><p role="alert"><strong>Development only.</strong> This is a fake OAuth 2.0 provider for local demos and tests. Never use it in production.</p>${content}</main></body></html>`;
}

/** One button per demo user (no passwords: consent is implied) and a Cancel form. */
export function signInPage(
  uid: string,
  clientId: string,
  scope: string,
  users: readonly DevUpstreamUser[],
): string {
  const buttons = users
    .map(
      (user) =>
        `<li><button type="submit" name="user" value="${escapeHtml(user.id)}">Continue as ${escapeHtml(user.name)}</button></li>`,
    )
    .join('');
  const base = `/interaction/${encodeURIComponent(uid)}`;
  return page(
    'Sign in to the development upstream',
    `<h1>Sign in to the development upstream</h1><p>The client <code>${escapeHtml(clientId)}</code> asks for <code>${escapeHtml(scope)}</code>. Pick a demo user:</p><form method="post" action="${base}/login"><ul>${buttons}</ul></form><form method="post" action="${base}/abort"><button type="submit">Cancel</button></form>`,
  );
}

export function homePage(): string {
  return page(
    'Development upstream',
    `<h1>Development upstream</h1><p>Discovery: <a href="/.well-known/openid-configuration">/.well-known/openid-configuration</a></p>`,
  );
}

export function avatarSvg(user: DevUpstreamUser): string {
  const initial = escapeHtml(user.name.trim().charAt(0).toUpperCase() || '?');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64"><rect width="64" height="64" rx="32" fill="#4f46e5"/><text x="32" y="42" font-family="sans-serif" font-size="28" fill="#fff" text-anchor="middle">${initial}</text></svg>`;
}
