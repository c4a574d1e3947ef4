'use server';
// The shop's writes, as Server Actions: the first one of a visitor creates the guest and its
// cookie; once signed in they write to the account.
import { findBook, addToCart as withBook } from '@guestmode/example-bookstore-next/books';
import { revalidatePath } from 'next/cache';
import { bookstore } from '../lib/bookstore';

export async function addToCart(form: FormData): Promise<void> {
  const book = findBook(form.get('id'));
  if (!book) return;
  const guest = await bookstore().getGuest();
  await guest.set('cart', withBook(await guest.get('cart'), book.id));
  revalidatePath('/');
}

export async function emptyCart(): Promise<void> {
  await (await bookstore().getGuest()).delete('cart');
  revalidatePath('/');
}

export async function setTheme(form: FormData): Promise<void> {
  const theme = form.get('theme') === 'dark' ? 'dark' : 'light';
  await (await bookstore().getGuest()).set('theme', theme);
  revalidatePath('/');
}
