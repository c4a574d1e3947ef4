import type { IncomingMessage } from 'node:http';
import { GuestmodeError } from '@guestmode/core';
import { AccountInputError } from './accounts.js';
import type { RouteContext } from './context.js';
import { type RequestContext, type Router, readForm, redirect, sendHtml } from './http.js';
import { type Locale, messages, type PageErrorCode, pickLocale } from './i18n.js';
import { messagePage, type SocialButton, signInPage, signUpPage } from './pages.js';
import { bindBrowser, isBoundBrowser, unbindBrowser } from './social-binding.js';

/** How long a social sign-in may take at the upstream before its state is forgotten. */
const SOCIAL_SESSION_TTL = 10 * 60 * 1000;

const PAGE_ERRORS = new Set<string>(Object.keys(messages('en').errors));

function localeOf(req: IncomingMessage, explicit?: string | null): Locale {
  const header = req.headers['accept-language'];
  return pickLocale(explicit, typeof header === 'string' ? header : undefined);
}

/** The interaction of this browser, or `undefined` when it expired or belongs elsewhere. */
async function loadInteraction(ctx: RouteContext, rc: RequestContext) {
  try {
    const details = await ctx.provider.interactionDetails(rc.req, rc.res);
    return details.uid === rc.params.uid ? details : undefined;
  } catch (error) {
    // SessionNotFound: no interaction cookie, or it expired. Anything else is ours to surface.
    if ((error as { name?: string }).name === 'SessionNotFound') return undefined;
    throw error;
  }
}

function expired(rc: RequestContext, locale: Locale) {
  const t = messages(locale);
  sendHtml(rc.res, 400, messagePage(locale, t.signInTitle, t.errors.session_expired));
}

function buttons(ctx: RouteContext, locale: Locale): SocialButton[] {
  return (ctx.social()?.list() ?? []).map((c) => ({
    id: c.id,
    name: (locale === 'ja' ? c.name.ja : undefined) ?? c.name.en,
    ...(c.logo ? { logo: c.logo } : {}),
  }));
}

async function appName(ctx: RouteContext, clientId: unknown) {
  const app = typeof clientId === 'string' ? await ctx.store.findApplication(clientId) : undefined;
  return app?.name ?? 'Guestmode';
}

/**
 * Grants what the client asked for, without a consent screen: every application here is
 * first-party, as in Logto. The SDKs always send `prompt=consent` (without it oidc-provider
 * drops `offline_access`), so this runs on every sign-in.
 */
async function autoConsent(
  ctx: RouteContext,
  rc: RequestContext,
  details: Awaited<ReturnType<RouteContext['provider']['interactionDetails']>>,
) {
  const { Grant } = ctx.provider;
  const accountId = details.session?.accountId;
  const clientId = String(details.params.client_id);
  const grant =
    (details.grantId ? await Grant.find(details.grantId) : undefined) ??
    new Grant({ accountId, clientId });
  const missing = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await ctx.provider.interactionFinished(
    rc.req,
    rc.res,
    { consent: { grantId } },
    { mergeWithLastSubmission: true },
  );
}

/** Registers the sign-in experience: pages, form posts, social start and completion. */
export function interactionRoutes(router: Router, ctx: RouteContext) {
  const render = async (
    rc: RequestContext,
    page: 'sign-in' | 'sign-up',
    locale: Locale,
    clientId: unknown,
    status = 200,
    extra: { error?: PageErrorCode; username?: string } = {},
  ) => {
    const input = {
      locale,
      uid: rc.params.uid!,
      appName: await appName(ctx, clientId),
      csrf: ctx.csrf.issue(rc.params.uid!),
      connectors: buttons(ctx, locale),
      ...extra,
    };
    sendHtml(rc.res, status, page === 'sign-in' ? signInPage(input) : signUpPage(input));
  };

  const showPage = (page: 'sign-in' | 'sign-up') => async (rc: RequestContext) => {
    const locale = localeOf(rc.req, rc.url.searchParams.get('lang'));
    const details = await loadInteraction(ctx, rc);
    if (!details) return expired(rc, locale);
    if (details.prompt.name === 'consent') return autoConsent(ctx, rc, details);
    if (details.prompt.name !== 'login') {
      throw new GuestmodeError('invalid_request', `unsupported prompt ${details.prompt.name}`);
    }
    // Only known codes are shown, so the query cannot inject text into the page.
    const error = rc.url.searchParams.get('error');
    const known = error && PAGE_ERRORS.has(error) ? (error as PageErrorCode) : undefined;
    const first = page === 'sign-in' && rc.url.pathname === `/interaction/${rc.params.uid}`;
    const wantsSignUp =
      first && details.params.first_screen === 'register' && !rc.url.searchParams.has('lang');
    await render(
      rc,
      wantsSignUp ? 'sign-up' : page,
      locale,
      details.params.client_id,
      known ? 400 : 200,
      {
        ...(known ? { error: known } : {}),
      },
    );
  };

  /** Common checks of a form post: live login interaction, valid CSRF token. */
  const formPost = async (rc: RequestContext) => {
    const form = await readForm(rc.req);
    const locale = localeOf(rc.req, form.get('lang'));
    const details = await loadInteraction(ctx, rc);
    if (details?.prompt.name !== 'login') {
      expired(rc, locale);
      return undefined;
    }
    if (!ctx.csrf.verify(rc.params.uid!, form.get('csrf'))) {
      throw new GuestmodeError('forbidden', 'missing or invalid CSRF token; reload the page');
    }
    return { form, locale, details };
  };

  const finishLogin = (rc: RequestContext, accountId: string, amr: string) =>
    ctx.provider.interactionFinished(
      rc.req,
      rc.res,
      { login: { accountId, amr: [amr], remember: true } },
      { mergeWithLastSubmission: false },
    );

  router.on('GET', '/interaction/:uid', showPage('sign-in'));
  router.on('GET', '/interaction/:uid/sign-up', showPage('sign-up'));

  router.on('POST', '/interaction/:uid/sign-in', async (rc) => {
    const post = await formPost(rc);
    if (!post) return;
    const { form, locale, details } = post;
    const username = form.get('username')?.trim() ?? '';
    const password = form.get('password') ?? '';
    const fail = (error: PageErrorCode) =>
      render(rc, 'sign-in', locale, details.params.client_id, 400, { error, username });
    if (!username) return fail('username_required');
    if (!password) return fail('password_required');
    const user = await ctx.accounts.authenticate(username, password);
    if (!user) return fail('invalid_credentials');
    await finishLogin(rc, user.id, 'pwd');
  });

  router.on('POST', '/interaction/:uid/sign-up', async (rc) => {
    const post = await formPost(rc);
    if (!post) return;
    const { form, locale, details } = post;
    const username = form.get('username')?.trim() ?? '';
    try {
      const user = await ctx.accounts.createUser({ username, password: form.get('password') });
      await finishLogin(rc, user.id, 'pwd');
    } catch (error) {
      if (!(error instanceof AccountInputError)) throw error;
      await render(rc, 'sign-up', locale, details.params.client_id, 400, {
        error: error.page,
        username,
      });
    }
  });

  // Starting a social sign-in is a POST with the CSRF token, so another site cannot start one
  // inside a victim's interaction.
  router.on('POST', '/interaction/:uid/social/:connectorId', async (rc) => {
    const post = await formPost(rc);
    if (!post) return;
    const social = ctx.social();
    if (!social) throw new GuestmodeError('not_found', 'no social connectors are configured');
    const connectorId = rc.params.connectorId!;
    const redirectUri = social.callbackUri(connectorId);
    const ua = rc.req.headers['user-agent'];
    const { url, session } = await social.authorizationUrl(connectorId, {
      redirectUri,
      jti: rc.params.uid!,
      ...(ua ? { userAgent: ua } : {}),
    });
    await ctx.store.insertSocialSession({
      id: String(session.state),
      connectorId,
      mode: 'sign-in',
      interactionUid: rc.params.uid!,
      userId: null,
      returnTo: null,
      session,
      result: null,
      expiresAt: Date.now() + SOCIAL_SESSION_TTL,
    });
    bindBrowser(rc.res, String(session.state), secureCookies(ctx), SOCIAL_SESSION_TTL);
    redirect(rc.res, url);
  });

  // Second half of a social sign-in: the callback stored the verified profile under the state;
  // finishing needs this browser's interaction cookie and the browser binding of the state, so
  // the profile cannot be replayed into someone else's sign-in.
  router.on('GET', '/interaction/:uid/social-complete/:sid', async (rc) => {
    const locale = localeOf(rc.req);
    const secure = secureCookies(ctx);
    const row = await ctx.store.findSocialSession(rc.params.sid!, Date.now());
    if (!row) return expired(rc, locale);
    // Used up whatever happens next: a completion that fails is never retried with this row.
    await ctx.store.deleteSocialSession(row.id);
    unbindBrowser(rc.res, row.id, secure);
    const details = await loadInteraction(ctx, rc);
    if (
      !details ||
      row.mode !== 'sign-in' ||
      row.interactionUid !== rc.params.uid ||
      !row.result ||
      !isBoundBrowser(rc.req, row.id, secure)
    ) {
      return expired(rc, locale);
    }
    const record = ctx.social()?.connector(row.connectorId);
    if (!record) return expired(rc, locale);
    const result = row.result as {
      userInfo: { id: string; name?: string; avatar?: string; email?: string };
      tokens?: { encrypted: string };
    };
    const { user } = await ctx.accounts.signInWithSocial({
      target: record.target,
      profile: result.userInfo,
      syncProfile: record.syncProfile,
      ...(result.tokens ? { tokens: result.tokens.encrypted } : {}),
    });
    await finishLogin(rc, user.id, 'social');
  });
}

/** Whether cookies must be `Secure` (and `__Host-`): the provider is served over HTTPS. */
export function secureCookies(ctx: RouteContext): boolean {
  return ctx.endpoint.startsWith('https:');
}

export { SOCIAL_SESSION_TTL };
