'use client';
// The account box of both Next Bookstores: `/api/logto/user` read with SWR. Sign-in is a link (a
// navigation to an API route or route handler); sign-out is a form posting the CSRF token that
// `/api/logto/user` gives a signed-in user.
import type { LogtoContext } from '@logto/next';
import useSWR from 'swr';

type User = LogtoContext & { csrfToken?: string };

async function fetcher(url: string): Promise<User> {
  const res = await fetch(url, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as User;
}

/** Signed-in user's display name from the ID token claims. */
function displayName(user: LogtoContext): string | undefined {
  const claims = user.claims as Record<string, unknown> | undefined;
  if (typeof claims?.name === 'string' && claims.name) return claims.name;
  if (typeof claims?.username === 'string' && claims.username) return claims.username;
  return undefined;
}

export function Account() {
  const { data } = useSWR('/api/logto/user', fetcher);
  if (!data) return <p className="account muted">…</p>;
  if (data.isAuthenticated) {
    const sub = data.claims?.sub ?? '';
    return (
      <p className="account">
        <span className="who">
          Signed in as <b>{displayName(data) ?? sub}</b> <code>(sub: {sub})</code>
        </span>
        <form method="post" action="/api/logto/sign-out" style={{ display: 'inline' }}>
          <input type="hidden" name="csrf" value={data.csrfToken ?? ''} />
          <button type="submit" className="btn ghost">
            Sign out
          </button>
        </form>
      </p>
    );
  }
  return (
    <p className="account">
      <a className="btn" href="/api/logto/sign-in">
        Sign in
      </a>
      <a className="btn ghost" href="/api/logto/sign-up">
        Create account
      </a>
    </p>
  );
}
