import type { Request, Response } from 'express';
import type { AppContext } from '../context.ts';
import { findSession, isMember, sessionToken, type Account, type SessionUser } from '../accounts/sessions.ts';
import { createGuard, type Access } from '../accounts/guard.ts';
import { membershipsOf } from '../accounts/member-queries.ts';
import { ApiError } from '../http/problem.ts';
import { type MessageKey, pageLocals, renderPage, renderProblem } from '../web/layer.ts';

/**
 * The logged-in side of every dashboard page: who is there, the header (navigation and the
 * organisation switcher), and the same guard as `/manage/v1` for what a page does.
 */
export function createDashboardSession(ctx: AppContext) {
  const guard = createGuard(ctx);

  async function current(req: Request): Promise<SessionUser | undefined> {
    const token = sessionToken(req);
    return token ? await findSession(ctx.database.db, token, ctx.now()) : undefined;
  }

  /** Fills the header of a logged-in page: navigation, the organisation switcher, the logout button. */
  async function signedIn(req: Request, res: Response, user: SessionUser): Promise<void> {
    const page = pageLocals(res);
    page.account = user;
    const path = (req.baseUrl + req.path).replace(/\/$/, '');
    const item = (href: string, key: MessageKey) => ({ href, label: page.t(key), current: path === href || path.startsWith(`${href}/`) });
    page.nav = [
      { ...item('/dashboard', 'dashboard.navClients'), current: path === '/dashboard' || path.startsWith('/dashboard/clients') },
      item('/dashboard/members', 'dashboard.navMembers'),
      item('/dashboard/plan', 'dashboard.navPlan'),
    ];
    page.organisations = (await membershipsOf(ctx.database.rm, user.sub)).map((o) => ({ id: o.id, name: o.name, current: o.id === user.organisationId }));
  }

  /**
   * The member a page acts as, checked by the API's guard: not logged in → the login page (and
   * back here after); no organisation → a page saying so; a role that may not → 403 page;
   * another organisation's thing → 404 page. Undefined when the page was answered already.
   */
  async function member(req: Request, res: Response, need: Access): Promise<Account | undefined> {
    const user = await current(req);
    if (!user) {
      res.redirect(303, `/dashboard/login?next=${encodeURIComponent(req.method === 'GET' ? req.originalUrl : req.baseUrl + req.path)}`);
      return undefined;
    }
    await signedIn(req, res, user);
    if (!isMember(user)) {
      const { t } = pageLocals(res);
      renderPage(req, res, 'members/message', { heading: t('members.membersTitle'), text: t('members.noOrganisation'), create: true }, { status: 403, title: 'members.membersTitle' });
      return undefined;
    }
    try {
      await guard(need)(req, res, () => undefined);
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) {
        renderPage(req, res, 'members/message', { heading: pageLocals(res).t('members.error_forbidden') }, { status: 403, title: 'members.error_forbidden' });
        return undefined;
      }
      if (error instanceof ApiError && error.status === 404) {
        renderProblem(req, res, 'notFound', 404);
        return undefined;
      }
      throw error;
    }
    return user;
  }

  return { current, signedIn, member };
}

export type DashboardSession = ReturnType<typeof createDashboardSession>;
