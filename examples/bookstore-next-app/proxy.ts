// Every form post to a page (the shop's Server Actions) must come from the Bookstore's own pages,
// decided the way Guestmode decides it (Sec-Fetch-Site, else Origin; `Origin: null` never
// passes). Another site's post is refused here with a 403, as the Express Bookstore refuses it,
// instead of reaching Next's own Server Action check, which answers it with a 500 and logs an
// error. The guest API and the sign-in routes under /api refuse such posts themselves.
import { requestSite } from '@guestmode/core/web';
import { type NextRequest, NextResponse } from 'next/server';

export function proxy(request: NextRequest): NextResponse {
  if (request.method !== 'POST') return NextResponse.next();
  const facts = {
    method: request.method,
    header: (name: string) => request.headers.get(name) ?? undefined,
  };
  if (requestSite(facts, request.nextUrl.origin) === 'same-origin') return NextResponse.next();
  return new NextResponse('Requests from other sites are refused.\n', {
    status: 403,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  });
}

export const config = { matcher: ['/((?!api/|_next/).*)'] };
