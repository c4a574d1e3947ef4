import type { LogtoContext } from '@logto/next';
import type { ReactNode } from 'react';
import useSWR from 'swr';

/** Signed-in user's display name from the ID token claims. */
function displayName(user: LogtoContext): string | undefined {
  const claims = user.claims as Record<string, unknown> | undefined;
  if (typeof claims?.name === 'string' && claims.name) return claims.name;
  if (typeof claims?.username === 'string' && claims.username) return claims.username;
  return undefined;
}

/**
 * The seed's navigation: `/api/logto/user` read with SWR. Sign-in is a link (a navigation to an
 * API route); sign-out is a form posting the CSRF token `/api/logto/user` gives a signed-in user.
 */
export function Account() {
  const { data } = useSWR<LogtoContext & { csrfToken?: string }>('/api/logto/user');
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

export function Layout(props: { theme: 'light' | 'dark'; prefs?: ReactNode; children: ReactNode }) {
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
      <footer>Bookstore — a Guestmode demo (Next.js Pages Router + Logto)</footer>
    </div>
  );
}
