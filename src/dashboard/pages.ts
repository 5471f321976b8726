import type { Request, Response, Router } from 'express';
import type { AppContext } from '../context.ts';
import { createPasswordCheck } from '../accounts/login.ts';
import { type SessionUser, clearSessionCookie, deleteSession, findAccount, sessionToken } from '../accounts/sessions.ts';
import { emailTaken, registerAccount, registerBody, startSession } from '../accounts/account-service.ts';
import { listClients } from '../clients/queries.ts';
import { ApiError } from '../http/problem.ts';
import { settle } from '../http/request.ts';
import { type FormState, type PageLayer, emptyForm, fieldErrors, pageLocals, renderPage, resubmittedForm, submittedIdempotencyKey } from '../web/layer.ts';

const text = (value: unknown, max: number): string => (typeof value === 'string' ? value.slice(0, max) : '');
/** Only a path on this site: never an open redirect. */
const localPath = (value: unknown): string | undefined => (typeof value === 'string' && /^\/(?![/\\])[\w\-/?=&.%]*$/.test(value) && value.length < 200 ? value : undefined);

/**
 * The dashboard's entrance (DESIGN §12): log in, register, log out, and a minimal home listing
 * the organisation's clients. It calls the same functions as `/manage/v1/account/*`.
 */
export function dashboardPages(ctx: AppContext, pages: PageLayer): Router {
  const { database } = ctx;
  const checkPassword = createPasswordCheck(database);
  const secureCookie = (req: Request) => ctx.config.COOKIE_SECURE ?? req.secure;
  const router = pages.router();

  async function currentAccount(req: Request): Promise<SessionUser | undefined> {
    const token = sessionToken(req);
    return token ? await findAccount(database.db, database.rm, token, ctx.now()) : undefined;
  }

  /** The header of a logged-in dashboard page: navigation and the logout button. */
  function signedIn(req: Request, res: Response, account: SessionUser): void {
    const page = pageLocals(res);
    page.account = account;
    const path = req.baseUrl + req.path;
    page.nav = [{ href: '/dashboard', label: page.t('dashboard.navClients'), current: path === '/dashboard/' || path === '/dashboard' }];
  }

  const showLogin = (req: Request, res: Response, form: FormState, status = 200, next?: string) =>
    renderPage(req, res, 'dashboard/login', { form, next }, { status, title: 'dashboard.loginTitle', here: '/dashboard/login' });
  const showRegister = (req: Request, res: Response, form: FormState, status = 200) =>
    renderPage(req, res, 'dashboard/register', { form }, { status, title: 'dashboard.registerTitle', here: '/dashboard/register' });

  router.get('/', async (req, res) => {
    const account = await currentAccount(req);
    if (!account) return showLogin(req, res, emptyForm());
    signedIn(req, res, account);
    const clients = account.organisationId ? await listClients(database.rm, account.organisationId) : [];
    renderPage(req, res, 'dashboard/home', { clients }, { title: 'dashboard.clientsHeading' });
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

  router.get('/register', (req, res) => showRegister(req, res, emptyForm({ idempotent: true })));

  router.post('/register', async (req, res) => {
    const { t } = pageLocals(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const fields = ['name', 'email', 'password'] as const;
    const parsed = registerBody.safeParse(Object.fromEntries(fields.map((f) => [f, text(body[f], 1_000)])));
    if (!parsed.success) {
      const errors = fieldErrors(parsed.error, t, { name: 'dashboard.errorName', email: 'dashboard.errorEmail', password: 'dashboard.errorPassword' });
      return showRegister(req, res, resubmittedForm(req, fields, errors, t('dashboard.formHasErrors')), 400);
    }
    try {
      const registered = await registerAccount(ctx, req, parsed.data, submittedIdempotencyKey(req));
      await settle(ctx, registered.position);
      await startSession(ctx, req, res, registered.sub);
      res.redirect(303, '/dashboard');
    } catch (error) {
      const taken = error instanceof ApiError && (error.code === emailTaken().code || error.code === 'duplicate_request');
      if (!taken) throw error;
      return showRegister(req, res, resubmittedForm(req, fields, { email: t('dashboard.emailTaken') }, t('dashboard.formHasErrors')), 409);
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

  return pages.finish(router);
}
