import type { Request, Response, Router } from 'express';
import type { AppContext } from '../context.ts';
import type { AccessPipeline } from '../access/pipeline.ts';
import { createPasswordCheck } from '../accounts/login.ts';
import { type SessionUser, clearSessionCookie, createSession, deleteSession, findAccount, sessionToken, setSessionCookie } from '../accounts/sessions.ts';
import { SCOPES } from '../clients/events.ts';
import { type MessageKey, type PageLayer, allowFormTarget, pageLocals, renderPage, renderProblem } from '../web/layer.ts';
import { withQuery } from './redirect-rules.ts';
import { type SignInToken, decideSignInToken, findSignInToken, isTokenShaped } from './tokens.ts';

export interface ClientView {
  readonly name: string;
  readonly testMode: boolean;
  readonly scopes: readonly string[];
}

type Loaded =
  | { readonly kind: 'ok'; readonly token: string; readonly row: SignInToken; readonly client: ClientView; readonly domain: string }
  | { readonly kind: 'unknown' | 'expired' | 'unavailable' };

const PROBLEM_PAGES = {
  unknown: { status: 404, title: 'signin.unknownTitle' },
  expired: { status: 410, title: 'signin.expiredTitle' },
  unavailable: { status: 403, title: 'signin.unavailableTitle' },
} as const satisfies Record<string, { status: number; title: MessageKey }>;

const text = (value: unknown, max: number): string => (typeof value === 'string' ? value.slice(0, max) : '');
const scopeKey = (scope: string): MessageKey => `signin.scope.${scope}` as MessageKey;

/**
 * The hosted sign-in pages (DESIGN §7), on the page layer: the user logs in (or uses their
 * session), sees which client asks and what it will receive, and allows or denies. Every form
 * carries the layer's CSRF token (bound to the browser's cookie and session); the pages may not
 * be framed, cached or leak their URL (which holds the token) as a referrer.
 */
export function signInPages(ctx: AppContext, pipeline: AccessPipeline, pages: PageLayer): Router {
  const { database, config } = ctx;
  const { db, rm } = database;
  const checkPassword = createPasswordCheck(database);
  const secureCookie = (req: Request) => config.COOKIE_SECURE ?? req.secure;
  const router = pages.router();

  /** The page URL again (after a login or logout), in the same language. */
  const pageUrl = (req: Request, res: Response, token: string | undefined) =>
    `${req.baseUrl}?${new URLSearchParams({ ...(isTokenShaped(token) ? { token } : {}), lang: pageLocals(res).lang })}`;

  /** Where the language switch of a page of this token points. */
  const here = (req: Request, token: string | undefined) => `${req.baseUrl}${isTokenShaped(token) ? `?token=${token}` : ''}`;

  function sendProblem(req: Request, res: Response, token: string | undefined, kind: keyof typeof PROBLEM_PAGES): void {
    const { status, title } = PROBLEM_PAGES[kind];
    renderPage(req, res, 'signin/problem', { heading: title }, { status, title, here: here(req, token) });
  }

  function pageData(req: Request, res: Response, loaded: Loaded & { kind: 'ok' }) {
    const { t } = pageLocals(res);
    // in catalogue order: what is always shared first, then each granted scope
    const granted = SCOPES.filter((scope) => loaded.client.scopes.includes(scope));
    return { basePath: req.baseUrl, token: loaded.token, client: loaded.client, shared: [t('signin.basic'), ...granted.map((s) => t(scopeKey(s)))] };
  }

  function send(req: Request, res: Response, loaded: Loaded & { kind: 'ok' }, view: string, data: Record<string, unknown>, status: number, title: MessageKey): void {
    // Browsers apply form-action to the redirect that follows a form post: allow the partner's origin.
    allowFormTarget(res, loaded.row.redirectUrl);
    renderPage(req, res, view, { ...pageData(req, res, loaded), ...data }, { status, title: { key: title, vars: { client: loaded.client.name } }, here: here(req, loaded.token) });
  }

  /** A sign-in token that can still be decided, with its client as the page shows it. */
  async function load(token: string | undefined): Promise<Loaded> {
    if (!isTokenShaped(token)) return { kind: 'unknown' };
    const row = await findSignInToken(db, token);
    if (!row) return { kind: 'unknown' };
    if (row.status !== 'pending' || row.expiresAt.getTime() <= ctx.now().getTime()) return { kind: 'expired' };
    const [client, domain, scopes, redirect] = await Promise.all([
      rm
        .selectFrom('clients')
        .innerJoin('organisations', 'organisations.organisation_id', 'clients.organisation_id')
        .select(['clients.name', 'clients.status', 'organisations.plan_status'])
        .where('clients.client_id', '=', row.clientId)
        .executeTakeFirst(),
      rm
        .selectFrom('client_domains')
        .select(['domain', 'test_mode', 'active', 'allow_login'])
        .where('domain_id', '=', row.domainId)
        .where('client_id', '=', row.clientId)
        .executeTakeFirst(),
      rm.selectFrom('client_scopes').select('scope').where('client_id', '=', row.clientId).orderBy('scope').execute(),
      // a redirect URI removed since the token was issued is no longer a place to send anyone
      rm.selectFrom('redirect_uris').select('uri').where('client_id', '=', row.clientId).where('uri', '=', row.redirectUrl).executeTakeFirst(),
    ]);
    const usable = client?.status === 'active' && client.plan_status === 'active' && domain?.active && domain.allow_login && redirect;
    if (!client || !domain || !usable) return { kind: 'unavailable' };
    return {
      kind: 'ok',
      token,
      row,
      domain: domain.domain,
      client: { name: client.name, testMode: domain.test_mode, scopes: scopes.map((s) => s.scope) },
    };
  }

  async function currentAccount(req: Request): Promise<SessionUser | undefined> {
    const token = sessionToken(req);
    return token ? await findAccount(db, rm, token, ctx.now()) : undefined;
  }

  async function isTestUser(clientId: string, sub: number): Promise<boolean> {
    const row = await rm.selectFrom('test_users').select('user_sub').where('client_id', '=', clientId).where('user_sub', '=', sub).executeTakeFirst();
    return row !== undefined;
  }

  /** Logged like every other denial (DESIGN §6), without a secret: none was presented here. */
  function logTestUserRequired(req: Request, loaded: Loaded & { kind: 'ok' }): void {
    pipeline.deny(req, 'test_user_required', { clientId: loaded.row.clientId, domain: loaded.domain, secretSha256: null, position: null, at: ctx.now() });
  }

  function sendLogin(req: Request, res: Response, loaded: Loaded & { kind: 'ok' }, status = 200, error?: string, email?: string): void {
    send(req, res, loaded, 'signin/login', { error, form: { values: { email: email ?? '' }, errors: {} } }, status, 'signin.heading');
  }

  async function sendSignedIn(req: Request, res: Response, loaded: Loaded & { kind: 'ok' }, account: SessionUser): Promise<void> {
    const signedIn = { name: account.name, email: account.email };
    if (loaded.client.testMode && !(await isTestUser(loaded.row.clientId, account.sub))) {
      logTestUserRequired(req, loaded);
      return send(req, res, loaded, 'signin/test-only', { signedIn }, 403, 'signin.testOnlyTitle');
    }
    send(req, res, loaded, 'signin/consent', { signedIn }, 200, 'signin.heading');
  }

  router.get('/', async (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    const loaded = await load(token);
    if (loaded.kind !== 'ok') return sendProblem(req, res, token, loaded.kind);
    const account = await currentAccount(req);
    if (!account) return sendLogin(req, res, loaded);
    await sendSignedIn(req, res, loaded, account);
  });

  // Every POST below passed the layer's CSRF check (403 page otherwise) before it got here.
  router.post('/login', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const token = text(body.token, 100);
    const loaded = await load(token);
    if (loaded.kind !== 'ok') return sendProblem(req, res, token, loaded.kind);
    const email = text(body.email, 254);
    const { t } = pageLocals(res);
    const outcome = await checkPassword({ email, password: text(body.password, 256), ip: req.ip });
    if (!outcome.ok) {
      if (outcome.reason === 'too_many_attempts') {
        res.set('Retry-After', String(outcome.retryAfterSeconds));
        return sendLogin(req, res, loaded, 429, t.strong('signin.tooManyAttempts', { seconds: outcome.retryAfterSeconds }), email);
      }
      return sendLogin(req, res, loaded, 401, t.strong('signin.invalidCredentials'), email);
    }
    const session = await createSession(db, outcome.user.sub, config.SESSION_TTL_HOURS, ctx.now(), {
      ip: req.ip ?? null,
      userAgent: req.get('user-agent')?.slice(0, 512) ?? null,
    });
    setSessionCookie(res, session.token, session.expiresAt, secureCookie(req));
    res.redirect(303, pageUrl(req, res, token));
  });

  router.post('/decision', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const token = text(body.token, 100);
    const loaded = await load(token);
    if (loaded.kind !== 'ok') return sendProblem(req, res, token, loaded.kind);
    const account = await currentAccount(req);
    if (!account) return res.redirect(303, pageUrl(req, res, token));
    if (body.decision !== 'approve' && body.decision !== 'deny') return renderProblem(req, res, 'badRequest', 400);
    const { row } = loaded;
    let approve = body.decision === 'approve';
    if (approve && loaded.client.testMode && !(await isTestUser(row.clientId, account.sub))) {
      logTestUserRequired(req, loaded);
      approve = false;
    }
    const decided = await decideSignInToken(db, row.tokenHash, approve ? { approve: true, userSub: account.sub } : { approve: false, userSub: account.sub }, ctx.now());
    if (!decided) return sendProblem(req, res, token, 'expired');
    res.redirect(303, withQuery(row.redirectUrl, approve ? { token: loaded.token } : { error: 'access_denied' }));
  });

  router.post('/logout', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const account = await currentAccount(req);
    if (account) {
      await deleteSession(db, account.sessionHash);
      ctx.sessionEnded?.(account.sessionHash);
      clearSessionCookie(res, secureCookie(req));
    }
    res.redirect(303, pageUrl(req, res, text(body.token, 100)));
  });

  return pages.finish(router);
}
