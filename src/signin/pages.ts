import { randomBytes } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type Response, Router } from 'express';
import cookieParser from 'cookie-parser';
import type { AppContext } from '../context.ts';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/errors.ts';
import type { AccessPipeline } from '../access/pipeline.ts';
import { createPasswordCheck } from '../accounts/login.ts';
import { type SessionUser, clearSessionCookie, createSession, deleteSession, findAccount, sessionToken, setSessionCookie } from '../accounts/sessions.ts';
import { refuseCrossOriginWrites } from '../http/origin.ts';
import { refuseUnstorableInput } from '../http/input-guard.ts';
import { toApiError } from '../http/problem.ts';
import { createCsrf } from './csrf.ts';
import { chooseLanguage } from './i18n.ts';
import { type ClientView, type Frame, consentView, loginView, messageView, say, testOnlyView } from './views.ts';
import { withQuery } from './redirect-rules.ts';
import { type SignInToken, decideSignInToken, findSignInToken, isTokenShaped } from './tokens.ts';

/** Binds the login form to the browser that loaded it (there is no session yet). */
const PRE_LOGIN_COOKIE = 'kl_signin';

type Loaded =
  | { readonly kind: 'ok'; readonly token: string; readonly row: SignInToken; readonly client: ClientView; readonly domain: string }
  | { readonly kind: 'unknown' | 'expired' | 'unavailable' };

const PROBLEM_PAGES = {
  unknown: { status: 404, title: 'unknownTitle' },
  expired: { status: 410, title: 'expiredTitle' },
  unavailable: { status: 403, title: 'unavailableTitle' },
} as const;

const text = (value: unknown, max: number): string => (typeof value === 'string' ? value.slice(0, max) : '');

/**
 * The hosted sign-in pages (DESIGN §7): the user logs in (or uses their session), sees which
 * client asks and what it will receive, and allows or denies. English and Dutch. Every form
 * carries a CSRF token bound to the sign-in token and to the browser; the pages may not be
 * framed, cached or leak their URL (which holds the token) as a referrer.
 */
export function signInPages(ctx: AppContext, pipeline: AccessPipeline): Router {
  const { database, config } = ctx;
  const { db, rm } = database;
  const csrf = createCsrf(db);
  const checkPassword = createPasswordCheck(database);
  const secureCookie = (req: Request) => config.COOKIE_SECURE ?? req.secure;

  const router = Router();
  // The forms carry CSRF tokens too; the origin check refuses a foreign page before anything is read.
  router.use(
    refuseCrossOriginWrites(config),
    express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }),
    refuseUnstorableInput,
    cookieParser(),
  );

  function frameFor(req: Request, token: string | undefined, lang: unknown): Frame {
    return {
      lang: chooseLanguage(lang, (languages) => req.acceptsLanguages(languages)),
      basePath: req.baseUrl,
      token: isTokenShaped(token) ? token : undefined,
      nonce: randomBytes(16).toString('base64'),
    };
  }

  /** The page URL again (after a login or logout), in the same language. */
  const pageUrl = (frame: Frame) => `${frame.basePath}?${new URLSearchParams({ ...(frame.token ? { token: frame.token } : {}), lang: frame.lang })}`;

  function send(res: Response, frame: Frame, status: number, page: string, redirectUrl?: string): void {
    // Browsers apply form-action to the redirect that follows a form post: allow the partner's origin.
    let target = '';
    if (redirectUrl) {
      const origin = new URL(redirectUrl).origin;
      target = origin.includes('[') ? ` ${new URL(redirectUrl).protocol}` : ` ${origin}`;
    }
    res.set({
      'Content-Security-Policy': `default-src 'none'; style-src 'nonce-${frame.nonce}'; form-action 'self'${target}; frame-ancestors 'none'; base-uri 'none'`,
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Content-Language': frame.lang,
      Vary: 'Accept-Language, Cookie',
    });
    res.status(status).type('html').send(page);
  }

  function sendProblem(res: Response, frame: Frame, kind: keyof typeof PROBLEM_PAGES): void {
    const { status, title } = PROBLEM_PAGES[kind];
    send(res, frame, status, messageView(frame, title, say(frame, 'startAgain')));
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

  async function sendLogin(req: Request, res: Response, frame: Frame, loaded: Loaded & { kind: 'ok' }, status = 200, error?: ReturnType<typeof say>, email?: string) {
    let binding = (req.cookies as Record<string, unknown>)[PRE_LOGIN_COOKIE];
    if (typeof binding !== 'string' || !/^[A-Za-z0-9_-]{32}$/.test(binding)) {
      binding = randomBytes(24).toString('base64url');
      res.cookie(PRE_LOGIN_COOKIE, binding, { httpOnly: true, sameSite: 'lax', secure: secureCookie(req), path: frame.basePath || '/' });
    }
    const form = { csrf: await csrf.sign('login', binding as string, loaded.row.tokenHash), error, email };
    send(res, frame, status, loginView(frame, loaded.client, form), loaded.row.redirectUrl);
  }

  async function sendSignedIn(req: Request, res: Response, frame: Frame, loaded: Loaded & { kind: 'ok' }, account: SessionUser, error?: ReturnType<typeof say>) {
    const tokens = {
      decide: await csrf.sign('decide', account.sessionHash, loaded.row.tokenHash),
      logout: await csrf.sign('logout', account.sessionHash, loaded.row.tokenHash),
    };
    if (loaded.client.testMode && !(await isTestUser(loaded.row.clientId, account.sub))) {
      logTestUserRequired(req, loaded);
      return send(res, frame, 403, testOnlyView(frame, loaded.client, account, tokens), loaded.row.redirectUrl);
    }
    send(res, frame, error ? 403 : 200, consentView(frame, loaded.client, account, tokens, error), loaded.row.redirectUrl);
  }

  router.get('/', async (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    const frame = frameFor(req, token, req.query.lang);
    const loaded = await load(token);
    if (loaded.kind !== 'ok') return sendProblem(res, frame, loaded.kind);
    const account = await currentAccount(req);
    if (!account) return await sendLogin(req, res, frame, loaded);
    await sendSignedIn(req, res, frame, loaded, account);
  });

  router.post('/login', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const frame = frameFor(req, text(body.token, 100), body.lang);
    const loaded = await load(frame.token);
    if (loaded.kind !== 'ok') return sendProblem(res, frame, loaded.kind);
    const email = text(body.email, 254);
    const binding = (req.cookies as Record<string, unknown>)[PRE_LOGIN_COOKIE];
    if (!(await csrf.verify('login', typeof binding === 'string' ? binding : undefined, loaded.row.tokenHash, body.csrf))) {
      return await sendLogin(req, res, frame, loaded, 403, say(frame, 'formExpired'), email);
    }
    const outcome = await checkPassword({ email, password: text(body.password, 256), ip: req.ip });
    if (!outcome.ok) {
      if (outcome.reason === 'too_many_attempts') {
        res.set('Retry-After', String(outcome.retryAfterSeconds));
        return await sendLogin(req, res, frame, loaded, 429, say(frame, 'tooManyAttempts', { seconds: outcome.retryAfterSeconds }), email);
      }
      return await sendLogin(req, res, frame, loaded, 401, say(frame, 'invalidCredentials'), email);
    }
    const session = await createSession(db, outcome.user.sub, config.SESSION_TTL_HOURS, ctx.now(), {
      ip: req.ip ?? null,
      userAgent: req.get('user-agent')?.slice(0, 512) ?? null,
    });
    setSessionCookie(res, session.token, session.expiresAt, secureCookie(req));
    res.redirect(303, pageUrl(frame));
  });

  router.post('/decision', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const frame = frameFor(req, text(body.token, 100), body.lang);
    const loaded = await load(frame.token);
    if (loaded.kind !== 'ok') return sendProblem(res, frame, loaded.kind);
    const account = await currentAccount(req);
    if (!account) return res.redirect(303, pageUrl(frame));
    if (!(await csrf.verify('decide', account.sessionHash, loaded.row.tokenHash, body.csrf))) {
      return await sendSignedIn(req, res, frame, loaded, account, say(frame, 'formExpired'));
    }
    if (body.decision !== 'approve' && body.decision !== 'deny') {
      return send(res, frame, 400, messageView(frame, 'badRequestTitle', say(frame, 'startAgain')));
    }
    const { row } = loaded;
    let approve = body.decision === 'approve';
    if (approve && loaded.client.testMode && !(await isTestUser(row.clientId, account.sub))) {
      logTestUserRequired(req, loaded);
      approve = false;
    }
    const decided = await decideSignInToken(db, row.tokenHash, approve ? { approve: true, userSub: account.sub } : { approve: false, userSub: account.sub }, ctx.now());
    if (!decided) return sendProblem(res, frame, 'expired');
    res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
    res.redirect(303, withQuery(row.redirectUrl, approve ? { token: loaded.token } : { error: 'access_denied' }));
  });

  router.post('/logout', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const frame = frameFor(req, text(body.token, 100), body.lang);
    const account = await currentAccount(req);
    const row = frame.token ? await findSignInToken(db, frame.token) : undefined;
    if (account && row && (await csrf.verify('logout', account.sessionHash, row.tokenHash, body.csrf))) {
      await deleteSession(db, account.sessionHash);
      ctx.sessionEnded?.(account.sessionHash);
      clearSessionCookie(res, secureCookie(req));
    }
    res.redirect(303, pageUrl(frame));
  });

  const pageErrors: ErrorRequestHandler = (error, req, res, _next) => {
    const frame = frameFor(req, undefined, undefined);
    const status = toApiError(error)?.status;
    if (status !== undefined && status >= 400 && status < 500) {
      return send(res, frame, status, messageView(frame, 'badRequestTitle', say(frame, 'startAgain')));
    }
    const reference = String(res.getHeader('x-request-id') ?? '');
    const unavailable = isDatabaseUnavailable(error);
    if (!unavailable) ctx.logger.error({ err: error, requestId: reference }, 'sign-in page failed');
    if (res.headersSent) return;
    if (unavailable) res.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
    send(res, frame, unavailable ? 503 : 500, messageView(frame, 'errorTitle', say(frame, 'errorBody', { reference })));
  };
  router.use(pageErrors);
  return router;
}
