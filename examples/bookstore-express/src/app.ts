import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  createGuestmode,
  type Guestmode,
  GuestmodeError,
  type GuestmodeOptions,
  isGuestmodeError,
} from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { nodeRequestFacts, requestSite } from '@guestmode/core/web';
import {
  getCsrfToken,
  getPendingMerge,
  guestmode,
  handleGuestmodeAuthRoutes,
} from '@guestmode/express';
import { handleAuthRoutes, type LogtoExpressConfig, withLogto } from '@logto/express';
import cookieParser from 'cookie-parser';
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import session from 'express-session';
import { findBook } from './books.js';
import { messages, pickLang } from './i18n.js';
import { SqliteSessionStore } from './session-store.js';
import {
  bookPage,
  type CartLine,
  cataloguePage,
  type Draft,
  mergePage,
  messagePage,
  type PageContext,
} from './views.js';

/** Everything the Bookstore needs; {@link loadConfig} reads it from the environment. */
export interface BookstoreConfig {
  /** The Logto (or local IdP) origin, e.g. `http://localhost:3001`. */
  readonly logtoEndpoint: string;
  readonly appId: string;
  readonly appSecret: string;
  /** The API resource the merge's access token is issued for. */
  readonly resource: string;
  /** This app's public origin, e.g. `http://localhost:3000`. */
  readonly baseUrl: string;
  readonly sessionSecret: string;
  /** Folder of the SQLite files (guests and sessions). */
  readonly dataDir: string;
  /** `on-conflict` (default) asks before a merge that would override account data. */
  readonly confirm?: 'never' | 'on-conflict';
  /**
   * Engine settings beyond the defaults (guest lifetime, purge schedule, guest-creation limit):
   * by default expired guests are purged hourly and an address may create 60 guests a minute.
   */
  readonly engine?: Pick<GuestmodeOptions, 'guestTtl' | 'purge' | 'guestCreationLimit' | 'now'>;
}

export const DEFAULTS = {
  logtoEndpoint: 'http://localhost:3001',
  resource: 'https://api.bookstore.local',
  baseUrl: 'http://localhost:3000',
} as const;

const DEV_SESSION_SECRET = 'bookstore-dev-session-secret-change-me';

/**
 * Reads the configuration from the environment: `LOGTO_ENDPOINT`, `LOGTO_APP_ID`,
 * `LOGTO_APP_SECRET`, `LOGTO_RESOURCE`, `BASE_URL`, `SESSION_SECRET`, `DATA_DIR`. In production
 * (`NODE_ENV=production`) a missing `SESSION_SECRET` is refused rather than defaulted.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  credentials: { appId?: string; appSecret?: string } = {},
): BookstoreConfig {
  const production = env.NODE_ENV === 'production';
  const sessionSecret = env.SESSION_SECRET ?? (production ? undefined : DEV_SESSION_SECRET);
  if (!sessionSecret || (production && sessionSecret === DEV_SESSION_SECRET)) {
    throw new TypeError('SESSION_SECRET must be set to a long random string in production');
  }
  const appId = env.LOGTO_APP_ID ?? credentials.appId;
  const appSecret = env.LOGTO_APP_SECRET ?? credentials.appSecret;
  if (!appId || !appSecret) {
    throw new TypeError('LOGTO_APP_ID and LOGTO_APP_SECRET must be set (the Logto app)');
  }
  return {
    logtoEndpoint: stripSlash(env.LOGTO_ENDPOINT ?? DEFAULTS.logtoEndpoint),
    appId,
    appSecret,
    resource: env.LOGTO_RESOURCE ?? DEFAULTS.resource,
    baseUrl: stripSlash(env.BASE_URL ?? DEFAULTS.baseUrl),
    sessionSecret,
    dataDir: env.DATA_DIR ?? './data',
  };
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

export interface BookstoreApp {
  readonly app: express.Express;
  readonly guestmode: Guestmode;
  close(): Promise<void>;
}

const MAX_QUANTITY = 99;
const MAX_DRAFT = 4000;

/**
 * The Bookstore: catalogue, cart (`cart`, sum-by-key), a draft review per book (`drafts`,
 * transfer), display preferences (`theme`, `lang`, user-wins). Guests use all of it; sign-in
 * goes through Logto and merges the guest's data into the account.
 */
export async function createBookstoreApp(config: BookstoreConfig): Promise<BookstoreApp> {
  mkdirSync(config.dataDir, { recursive: true });
  const engine = createGuestmode({
    storage: await openSqliteStorage({ database: join(config.dataDir, 'guestmode.db') }),
    mergeRules: { cart: 'sum-by-key', drafts: 'transfer', theme: 'user-wins', lang: 'user-wins' },
    accessTokens: { issuer: `${config.logtoEndpoint}/oidc`, audience: config.resource },
    ...config.engine,
  });
  const sessions = new SqliteSessionStore(join(config.dataDir, 'sessions.db'));
  const secure = new URL(config.baseUrl).protocol === 'https:';

  const logto: LogtoExpressConfig = {
    endpoint: config.logtoEndpoint,
    appId: config.appId,
    appSecret: config.appSecret,
    baseUrl: config.baseUrl,
    resources: [config.resource],
  };

  const app = express();
  app.disable('x-powered-by');
  if (secure) app.set('trust proxy', 1);
  app.use(cookieParser());
  app.use(
    session({
      name: secure ? '__Host-bookstore.sid' : 'bookstore.sid',
      secret: config.sessionSecret,
      store: sessions,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure, maxAge: 14 * 86_400_000 },
    }),
  );
  // Every form post must come from the Bookstore's own pages, decided the way the adapter decides
  // it (Sec-Fetch-Site, else Origin; `Origin: null` never passes).
  const appOrigin = new URL(config.baseUrl).origin;
  app.use((req, _res, next) => {
    if (req.method === 'POST' && requestSite(nodeRequestFacts(req), appOrigin) !== 'same-origin') {
      next(new GuestmodeError('cross_site_request', 'Requests from other sites are refused.'));
      return;
    }
    next();
  });
  app.use(
    handleGuestmodeAuthRoutes({
      guestmode: engine,
      logto,
      resource: config.resource,
      confirm: config.confirm ?? 'on-conflict',
      confirmPath: '/merge',
    }),
  );
  app.use(handleAuthRoutes(logto));
  app.use(withLogto(logto));
  app.use(guestmode({ guestmode: engine, trustProxy: secure ? 1 : 0 }));
  app.use(express.urlencoded({ extended: false, limit: '16kb' }));

  const context = async (req: Request): Promise<PageContext> => {
    const attributes = await req.guest.all();
    const claims = (req as Request & { user?: { claims?: Record<string, unknown> } }).user?.claims;
    const sub = req.guest.userId;
    const name =
      typeof claims?.name === 'string' && claims.name
        ? claims.name
        : typeof claims?.username === 'string'
          ? claims.username
          : undefined;
    return {
      lang: pickLang(attributes.lang, req.headers['accept-language']),
      theme: attributes.theme === 'dark' ? 'dark' : 'light',
      kind: req.guest.kind,
      mergePending: req.guest.mergePending,
      confirmUrl: req.guest.confirmUrl,
      ...(sub ? { user: { sub, ...(name ? { name } : {}), csrf: getCsrfToken(req) } } : {}),
      cart: cartOf(attributes.cart),
      drafts: draftsOf(attributes.drafts),
      path: req.path,
    };
  };

  // Pages show this visitor's cart or profile: never cached, and never shared across cookies.
  const page = (res: Response, body: string, status = 200) =>
    res.status(status).type('html').set({ 'Cache-Control': 'no-store', Vary: 'Cookie' }).send(body);

  app.get('/', async (req, res) => {
    page(res, cataloguePage(await context(req)));
  });

  app.get('/books/:id', async (req, res) => {
    const ctx = await context(req);
    const book = findBook(req.params.id);
    if (!book) {
      const t = messages(ctx.lang);
      page(res, messagePage(ctx, t.notFound, t.notFound), 404);
      return;
    }
    page(res, bookPage(ctx, book, req.query.saved === '1'));
  });

  app.post('/cart/add', async (req, res) => {
    const book = findBook(req.body?.book);
    if (book) {
      const cart = cartOf(await req.guest.get('cart')).map((line) => ({ ...line }));
      const line = cart.find((l) => l.id === book.id);
      if (line) line.quantity = Math.min(MAX_QUANTITY, line.quantity + 1);
      else cart.push({ id: book.id, quantity: 1 });
      await req.guest.set('cart', cart);
    }
    res.redirect(303, localPath(req.body?.back) ?? '/');
  });

  app.post('/cart/clear', async (req, res) => {
    if (req.guest.kind !== 'none') await req.guest.delete('cart');
    res.redirect(303, '/');
  });

  app.post('/books/:id/draft', async (req, res) => {
    const book = findBook(req.params.id);
    if (!book) {
      res.redirect(303, '/');
      return;
    }
    const text = typeof req.body?.text === 'string' ? req.body.text.slice(0, MAX_DRAFT) : '';
    const drafts = draftsOf(await req.guest.get('drafts')).filter((d) => d.id !== book.id);
    if (text.trim()) drafts.push({ id: book.id, text });
    if (drafts.length > 0 || req.guest.kind !== 'none') await req.guest.set('drafts', drafts);
    res.redirect(303, `/books/${book.id}?saved=1`);
  });

  app.post('/prefs', async (req, res) => {
    const { theme, lang } = req.body ?? {};
    if (theme === 'light' || theme === 'dark') await req.guest.set('theme', theme);
    if (lang === 'en' || lang === 'ja') await req.guest.set('lang', lang);
    res.redirect(303, localPath(req.body?.back) ?? '/');
  });

  app.get('/merge', async (req, res) => {
    const pending = await getPendingMerge(req);
    if (!pending) {
      res.redirect('/');
      return;
    }
    page(res, mergePage(await context(req), pending));
  });

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  const onError: ErrorRequestHandler = (error, req, res, _next) => {
    const status =
      typeof error?.status === 'number' && error.status >= 400 && error.status < 500
        ? error.status
        : 500;
    if (status === 500) console.error(error);
    const lang = pickLang(undefined, req.headers['accept-language']);
    const t = messages(lang);
    const text =
      status < 500 && (isGuestmodeError(error) || error?.expose) ? String(error.message) : t.error;
    const ctx: PageContext = {
      lang,
      theme: 'light',
      kind: 'none',
      cart: [],
      drafts: [],
      path: '/',
    };
    if (res.headersSent) return;
    // `Retry-After` and the `RateLimit-*` fields of a refused guest creation.
    if (isGuestmodeError(error)) res.set(error.headers);
    page(res, messagePage(ctx, t.error, text), status);
  };
  app.use(onError);

  return {
    app,
    guestmode: engine,
    async close() {
      sessions.close();
      await engine.close();
    },
  };
}

function localPath(value: unknown): string | undefined {
  return typeof value === 'string' && /^\/(?!\/)[\w\-/]*$/.test(value) ? value : undefined;
}

function cartOf(value: unknown): CartLine[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (l): l is CartLine =>
      typeof l === 'object' &&
      l !== null &&
      typeof l.id === 'string' &&
      Number.isInteger(l.quantity),
  );
}

function draftsOf(value: unknown): Draft[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (d): d is Draft =>
      typeof d === 'object' && d !== null && typeof d.id === 'string' && typeof d.text === 'string',
  );
}
