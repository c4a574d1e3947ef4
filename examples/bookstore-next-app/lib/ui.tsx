import type { ReactNode } from 'react';
import { Account } from '../app/account';

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
      <footer>Bookstore — a Guestmode demo (Next.js App Router + Logto)</footer>
    </div>
  );
}
