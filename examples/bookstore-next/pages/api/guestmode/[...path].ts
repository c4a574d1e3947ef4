// The guest API `useGuest()` talks to: profile, attribute writes, and the confirm form's post.
import type { NextApiHandler } from 'next';
import { bookstore } from '../../../lib/bookstore';

let handler: NextApiHandler | undefined;

const guestRoutes: NextApiHandler = (req, res) => {
  handler ??= bookstore().guestmode.handleGuestRoutes();
  return handler(req, res);
};

export default guestRoutes;
