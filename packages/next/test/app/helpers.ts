// The App Router adapter served by Next's own route-handler module (AppRouteRouteModule, the
// code `next start` runs for app/**/route.ts), so the handlers meet the same `cookies()`,
// `headers()`, request store and Set-Cookie merging as in an app, with the local provider over
// HTTP. The routes are what the docs say: `app/api/logto/[action]/route.ts` = `gm.authRoutes`,
// `app/api/guestmode/[...path]/route.ts` = `gm.guestRoutes`, plus `app/api/me/route.ts` (a
// route handler's guest, as a Server Action sees it: no request passed), `app/api/action` (a
// write the way a Server Action makes it) and `app/api/rsc` (what a Server Component reads).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toErrorResponse } from '@guestmode/core';
import { AppRouteRouteModule } from 'next/dist/server/route-modules/app-route/module.js';
import { NextRequest } from 'next/server.js';
import {
  type AppMergeEvent,
  createGuestmodeApp,
  type GuestmodeApp,
  type GuestmodeAppOptions,
} from '../../src/app/index.js';
import { type EngineOptions, type FixtureBase, startFixtureBase } from '../helpers.js';

type Handler = (request: Request) => unknown;

const PREVIEW = { previewModeId: 't', previewModeSigningKey: 't', previewModeEncryptionKey: 't' };
const CONTEXT = {
  params: undefined,
  prerenderManifest: {
    version: 4,
    routes: {},
    dynamicRoutes: {},
    notFoundRoutes: [],
    preview: PREVIEW,
  },
  renderOpts: {
    experimental: { cacheComponents: false, authInterrupts: false },
    supportsDynamicResponse: true,
  },
  sharedContext: { buildId: 'test', deploymentId: '' },
  previewProps: PREVIEW,
};

/** One `app/<page>/route.ts` as Next runs it. */
function routeModule(page: string, handlers: Record<string, Handler>) {
  const module = new AppRouteRouteModule({
    definition: {
      kind: 'APP_ROUTE',
      page: `${page}/route`,
      pathname: page,
      filename: 'route',
      bundlePath: `app${page}/route`,
    },
    userland: () => handlers,
    distDir: '.next',
    relativeProjectDir: '',
    resolvedPagePath: `app${page}/route.ts`,
    nextConfigOutput: undefined,
  } as never);
  return (request: NextRequest) => module.handle(request, CONTEXT as never) as Promise<Response>;
}

async function toRequest(req: IncomingMessage, base: string): Promise<NextRequest> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    for (const one of [value ?? []].flat()) headers.append(name, one);
  }
  const method = req.method ?? 'GET';
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = method === 'GET' || method === 'HEAD' ? undefined : Buffer.concat(chunks);
  return new NextRequest(new URL(req.url ?? '/', base), { method, headers, body });
}

async function send(res: ServerResponse, answer: Response): Promise<void> {
  res.statusCode = answer.status;
  answer.headers.forEach((value, name) => {
    if (name !== 'set-cookie') res.setHeader(name, value);
  });
  const cookies = answer.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  res.end(Buffer.from(await answer.arrayBuffer()));
}

export interface AppFixture extends FixtureBase {
  gm: GuestmodeApp;
  events: AppMergeEvent[];
}

/** The routes of the fixture app, by path. */
function appRoutes(gm: GuestmodeApp) {
  const me = async () => {
    const guest = await gm.getGuest();
    const user = await gm.getUser();
    return Response.json({
      kind: guest.kind,
      id: guest.id ?? null,
      userId: guest.userId ?? null,
      sub: user.claims?.sub ?? null,
      attributes: await guest.all(),
    });
  };
  const action = async (request: Request) => {
    const { name, value } = (await request.json()) as { name: string; value: unknown };
    try {
      await (await gm.getGuest()).set(name, value);
      return Response.json({ ok: true });
    } catch (error) {
      const answer = toErrorResponse(error);
      return Response.json(answer.body, { status: answer.status });
    }
  };
  const rsc = async (request: Request) => {
    const guest = await gm.readGuest();
    let write: string | null = null;
    if (new URL(request.url).searchParams.has('write')) {
      write = await guest.set('theme', 'dark').then(
        () => 'written',
        (error: Error) => error.name,
      );
    }
    return Response.json({
      profile: await guest.profile(),
      write,
      pending: (await gm.getPendingMerge()) ?? null,
    });
  };
  return {
    logto: routeModule('/api/logto/[action]', gm.authRoutes),
    guestmode: routeModule('/api/guestmode/[...path]', gm.guestRoutes),
    me: routeModule('/api/me', { GET: me }),
    action: routeModule('/api/action', { POST: action }),
    rsc: routeModule('/api/rsc', { GET: rsc }),
  };
}

/** The local provider and the fixture app on 127.0.0.1 (port 0). */
export async function startAppFixture(
  options: Partial<Omit<GuestmodeAppOptions, 'guestmode' | 'logto'>> = {},
  engineOptions: EngineOptions = {},
): Promise<AppFixture> {
  const base = await startFixtureBase('Test shop (App Router)', engineOptions);
  const { engine, logto, url, server } = base;
  const events: AppMergeEvent[] = [];
  const gm = createGuestmodeApp({
    guestmode: engine,
    logto,
    onMerge: (e) => void events.push(e),
    ...options,
  });
  const routes = appRoutes(gm);
  server.on('request', (req, res) => {
    const segments = new URL(req.url ?? '/', url).pathname.split('/').filter(Boolean);
    const route = segments[0] === 'api' ? routes[segments[1] as keyof typeof routes] : undefined;
    if (!route) {
      res.statusCode = 404;
      res.end();
      return;
    }
    void toRequest(req, url)
      .then(route)
      .then((answer) => send(res, answer))
      .catch((error: unknown) => {
        console.error(error);
        res.statusCode = 500;
        res.end();
      });
  });
  return { ...base, gm, events };
}
