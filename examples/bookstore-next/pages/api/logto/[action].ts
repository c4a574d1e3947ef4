// The seed's `export default logtoClient.handleAuthRoutes()`, made guest-aware: sign-in records
// the browser's guest, the callback merges it into the account, sign-out deletes the guest cookie.
import type { NextApiHandler } from 'next';
import { bookstore } from '../../../lib/bookstore';

let handler: NextApiHandler | undefined;

const authRoutes: NextApiHandler = (req, res) => {
  if (!handler) {
    const { guestmode, logtoClient } = bookstore();
    handler = guestmode.handleAuthRoutes(logtoClient.handleAuthRoutes());
  }
  return handler(req, res);
};

export default authRoutes;
