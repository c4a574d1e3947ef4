// The guest API useGuest() talks to, and the confirm form's post.
import { bookstore } from '../../../../lib/bookstore';

export const GET = (request: Request) => bookstore().guestRoutes.GET(request);
export const PUT = (request: Request) => bookstore().guestRoutes.PUT(request);
export const DELETE = (request: Request) => bookstore().guestRoutes.DELETE(request);
export const POST = (request: Request) => bookstore().guestRoutes.POST(request);
