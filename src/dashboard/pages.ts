import type { Request, Response, Router } from 'express';
import type { AppContext } from '../context.ts';
import { createPasswordCheck } from '../accounts/login.ts';
import { clearSessionCookie, deleteSession } from '../accounts/sessions.ts';
import { emailTaken, registerAccount, registerBody, startSession } from '../accounts/account-service.ts';
import { ApiError } from '../http/problem.ts';
import { settle } from '../http/request.ts';
import { createDashboardSession } from './session.ts';
import { organisationPages } from './organisation-pages.ts';
import { organisationLifecyclePages } from './organisation-lifecycle.ts';
import { type FormState, type PageLayer, emptyForm, fieldErrors, pageLocals, renderPage, resubmittedForm, submittedIdempotencyKey } from '../web/layer.ts';
import { createDashboardDeps } from './context.ts';
import { clientListPages } from './client-list.ts';
import { clientOverviewPages } from './client-overview.ts';
import { clientDomainPages } from './client-domains.ts';
import { clientSecretPages } from './client-secrets.ts';
import { clientSettingPages } from './client-settings.ts';
import { clientHistoryPages } from './client-history.ts';
import { clientListingPages } from './client-listing.ts';

const text = (value: unknown, max: number): string => (typeof value === 'string' ? value.slice(0, max) : '');
/** Only a path on this site: never an open redirect. */
const localPath = (value: unknown): string | undefined => (typeof value === 'string' && /^\/(?![/\\])[\w\-/?=&.%]*$/.test(value) && value.length < 200 ? value : undefined);

/**
 * The dashboard (DESIGN §12): its entrance here (log in, register, log out: the same functions as
 * `/manage/v1/account/*`), and the client pages, one module a subject (client-*.ts), all on this
 * one page router; they call the same command and query functions as `/manage/v1`.
 */
export function dashboardPages(ctx: AppContext, pages: PageLayer): Router {
  const { database } = ctx;
  const checkPassword = createPasswordCheck(database);
  const secureCookie = (req: Request) => ctx.config.COOKIE_SECURE ?? req.secure;
  const router = pages.router();

  const session = createDashboardSession(ctx);
  const currentAccount = session.current;

  const showLogin = (req: Request, res: Response, form: FormState, status = 200, next?: string) =>
    renderPage(req, res, 'dashboard/login', { form, next }, { status, title: 'dashboard.loginTitle', here: '/dashboard/login' });
  const showRegister = (req: Request, res: Response, form: FormState, status = 200, next?: string) =>
    renderPage(req, res, 'dashboard/register', { form, next }, { status, title: 'dashboard.registerTitle', here: '/dashboard/register' });

  // a visitor sees the login form at /dashboard; a member the clients (client-list.ts)
  router.get('/', async (req, res, next) => {
    if (await currentAccount(req)) return next();
    showLogin(req, res, emptyForm());
  });

  router.get('/login', (req, res) => showLogin(req, res, emptyForm(), 200, localPath(req.query.next)));

  router.post('/login', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { t } = pageLocals(res);
    const next = localPath(body.next);
    const email = text(body.email, 254);
    const errors: Record<string, string> = {};
    if (email.trim() === '') errors.email = t('dashboard.errorRequired');
    if (text(body.password, 256) === '') errors.password = t('dashboard.errorRequired');
    if (Object.keys(errors).length > 0) return showLogin(req, res, resubmittedForm(req, ['email'], errors, t('dashboard.formHasErrors')), 400, next);
    const outcome = await checkPassword({ email, password: text(body.password, 256), ip: req.ip });
    if (!outcome.ok) {
      if (outcome.reason === 'too_many_attempts') {
        res.set('Retry-After', String(outcome.retryAfterSeconds));
        return showLogin(req, res, resubmittedForm(req, ['email'], {}, t('dashboard.tooManyAttempts', { seconds: outcome.retryAfterSeconds })), 429, next);
      }
      return showLogin(req, res, resubmittedForm(req, ['email'], {}, t('dashboard.invalidCredentials')), 401, next);
    }
    await startSession(ctx, req, res, outcome.user.sub);
    res.redirect(303, next ?? '/dashboard');
  });

  // `next`: back to where the visitor came from (an invitation link), a path on this site only
  router.get('/register', (req, res) => showRegister(req, res, emptyForm({ idempotent: true }), 200, localPath(req.query.next)));

  router.post('/register', async (req, res) => {
    const { t } = pageLocals(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = localPath(body.next);
    const fields = ['name', 'email', 'password'] as const;
    const parsed = registerBody.safeParse(Object.fromEntries(fields.map((f) => [f, text(body[f], 1_000)])));
    if (!parsed.success) {
      const errors = fieldErrors(parsed.error, t, { name: 'dashboard.errorName', email: 'dashboard.errorEmail', password: 'dashboard.errorPassword' });
      return showRegister(req, res, resubmittedForm(req, fields, errors, t('dashboard.formHasErrors')), 400, next);
    }
    try {
      const registered = await registerAccount(ctx, req, parsed.data, submittedIdempotencyKey(req), { via: 'dashboard', language: pageLocals(res).lang });
      await settle(ctx, registered.position);
      await startSession(ctx, req, res, registered.sub);
      res.redirect(303, next ?? '/dashboard');
    } catch (error) {
      if (error instanceof ApiError && error.code === 'weak_password') {
        // the reason, in the page's language, from the shared password policy
        const reason = error.errors?.[0]?.message ?? t('dashboard.errorPassword');
        return showRegister(req, res, resubmittedForm(req, fields, { password: reason }, t('dashboard.formHasErrors')), 400);
      }
      const taken = error instanceof ApiError && (error.code === emailTaken().code || error.code === 'duplicate_request');
      if (!taken) throw error;
      return showRegister(req, res, resubmittedForm(req, fields, { email: t('dashboard.emailTaken') }, t('dashboard.formHasErrors')), 409, next);
    }
  });

  router.post('/logout', async (req, res) => {
    const account = await currentAccount(req);
    if (account) {
      await deleteSession(database.db, account.sessionHash);
      ctx.sessionEnded?.(account.sessionHash);
    }
    clearSessionCookie(res, secureCookie(req));
    res.redirect(303, '/dashboard');
  });

  const deps = createDashboardDeps(ctx, pages, router, session.signedIn);
  clientListPages(deps);
  clientOverviewPages(deps);
  clientDomainPages(deps);
  clientSecretPages(deps);
  clientSettingPages(deps);
  clientHistoryPages(deps);
  clientListingPages(deps);

  organisationPages(ctx, router, session);
  organisationLifecyclePages(ctx, router, session);

  return pages.finish(router);
}
