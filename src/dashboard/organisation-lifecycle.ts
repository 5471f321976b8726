import type { Request, Response, Router } from 'express';
import type { AppContext } from '../context.ts';
import { access } from '../accounts/guard.ts';
import type { SessionUser } from '../accounts/sessions.ts';
import { createMemberCommands } from '../accounts/member-commands.ts';
import { countLiveClients, listMembers, organisationSummary } from '../accounts/member-queries.ts';
import { createOrganisationBody } from '../accounts/routes.ts';
import { ApiError } from '../http/problem.ts';
import { type FormState, assetUrl, emptyForm, fieldErrors, pageLocals, renderPage, resubmittedForm, submittedIdempotencyKey } from '../web/layer.ts';
import type { DashboardSession } from './session.ts';

/**
 * An organisation's beginning and end in the dashboard: "New organisation" (for anyone logged in:
 * an end user who becomes a partner, a member who left every organisation) and "Delete this
 * organisation" (owners; refused while it has clients). The same commands as
 * `POST /manage/v1/organisations` and `DELETE /manage/v1/organisations/:id`.
 */
export function organisationLifecyclePages(ctx: AppContext, router: Router, session: DashboardSession): void {
  const commands = createMemberCommands(ctx);
  const styles = () => [assetUrl('members.css')];

  function showNew(req: Request, res: Response, form: FormState, status = 200) {
    const { t } = pageLocals(res);
    const notice = req.method === 'GET' && req.query.done === 'deleted' ? t('members.doneDeleted') : undefined;
    renderPage(req, res, 'members/new-organisation', { form, notice, styles: styles() }, { status, title: 'members.newOrganisationTitle', here: '/dashboard/organisations/new' });
  }

  async function loggedIn(req: Request, res: Response): Promise<SessionUser | undefined> {
    const user = await session.current(req);
    if (!user) {
      res.redirect(303, `/dashboard/login?next=${encodeURIComponent('/dashboard/organisations/new')}`);
      return undefined;
    }
    await session.signedIn(req, res, user);
    return user;
  }

  router.get('/organisations/new', async (req, res) => {
    if (await loggedIn(req, res)) showNew(req, res, emptyForm({ idempotent: true }));
  });

  router.post('/organisations/new', async (req, res) => {
    const user = await loggedIn(req, res);
    if (!user) return;
    const { t } = pageLocals(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const parsed = createOrganisationBody.safeParse({ name: typeof body.name === 'string' ? body.name.slice(0, 1_000) : '' });
    if (!parsed.success) {
      const errors = fieldErrors(parsed.error, t, { name: 'members.errorOrganisationName' });
      return showNew(req, res, resubmittedForm(req, ['name'], errors, t('dashboard.formHasErrors')), 400);
    }
    try {
      await commands.createOrganisation(req, user, parsed.data.name, submittedIdempotencyKey(req));
    } catch (error) {
      // the same form sent twice: the first one made it, and the session acts in it
      if (!(error instanceof ApiError && error.code === 'duplicate_request')) throw error;
    }
    res.redirect(303, '/dashboard/plan?done=created');
  });

  router.get('/organisation/delete', async (req, res) => {
    const account = await session.member(req, res, access.member('delete', 'Organisation'));
    if (!account) return;
    const { t } = pageLocals(res);
    const [organisation, members, clients] = await Promise.all([
      organisationSummary(ctx.database.rm, account.organisationId),
      listMembers(ctx.database, account.organisationId),
      countLiveClients(ctx.database.rm, account.organisationId),
    ]);
    const name = organisation?.name ?? account.organisationId;
    if (clients > 0) {
      return renderPage(
        req,
        res,
        'members/message',
        { heading: t('members.deleteHeading'), text: t('members.deleteHasClients', { organisation: name, clients }), link: { href: '/dashboard', label: t('members.toClients') } },
        { status: 409, title: 'members.deleteHeading' },
      );
    }
    renderPage(
      req,
      res,
      'members/confirm',
      { text: t('members.confirmDelete', { organisation: name, members: members.length }), action: '/dashboard/organisation/delete', fields: {}, back: '/dashboard/members', form: emptyForm({ idempotent: true }), styles: styles() },
      { title: 'members.confirmTitle' },
    );
  });

  router.post('/organisation/delete', async (req, res) => {
    const account = await session.member(req, res, access.member('delete', 'Organisation'));
    if (!account) return;
    try {
      await commands.deleteOrganisation(req, account, submittedIdempotencyKey(req));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      const { t } = pageLocals(res);
      const message = error.code === 'organisation_has_clients' ? t('members.error_organisation_has_clients') : t('members.errorGeneric');
      return renderPage(req, res, 'members/message', { heading: t('members.deleteHeading'), text: message }, { status: error.status, title: 'members.deleteHeading' });
    }
    res.redirect(303, '/dashboard/organisations/new?done=deleted');
  });
}
