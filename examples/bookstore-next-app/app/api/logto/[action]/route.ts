// Sign-in, sign-up, the callback (which merges the browser's guest into the account), sign-out
// and the signed-in user: the guest-aware routes of @logto/next/server-actions.
import { bookstore } from '../../../../lib/bookstore';

export const GET = (request: Request) => bookstore().authRoutes.GET(request);
export const POST = (request: Request) => bookstore().authRoutes.POST(request);
