import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { INVITABLE_ROLES, ROLES, type Role } from '../accounts/events.ts';
import { access } from '../accounts/guard.ts';
import { managementAbility } from '../accounts/ability.ts';
import type { Account } from '../accounts/sessions.ts';
import { createMemberCommands, type InvitationCreated } from '../accounts/member-commands.ts';
import { listMembers, listPendingInvitations, organisationSummary, selectSessionOrganisation } from '../accounts/member-queries.ts';
import { inviteBody } from '../accounts/member-routes.ts';
import { PLAN_LIMITS, PLAN_NAMES, type PlanName } from '../accounts/plans.ts';
import { ApiError } from '../http/problem.ts';
import { type FormState, type MessageKey, assetUrl, emptyForm, fieldErrors, pageLocals, renderPage, resubmittedForm, submittedIdempotencyKey } from '../web/layer.ts';
import type { DashboardSession } from './session.ts';

/** Messages for the refusals a member or plan command can answer with; others get the generic one. */
const ERROR_KEYS: Readonly<Record<string, MessageKey>> = {
  last_owner: 'members.error_last_owner',
  forbidden: 'members.error_forbidden',
  member_not_found: 'members.error_member_not_found',
  already_member: 'members.error_already_member',
  already_owner: 'members.error_already_owner',
  invitation_not_pending: 'members.error_invitation_not_pending',
  invitation_not_found: 'members.error_invitation_not_found',
  duplicate_request: 'members.error_duplicate_request',
  no_active_plan: 'members.error_no_active_plan',
};
const DONE_KEYS: Readonly<Record<string, MessageKey>> = {
  role: 'members.doneRole',
  removed: 'members.doneRemoved',
  transferred: 'members.doneTransferred',
  revoked: 'members.doneRevoked',
  plan: 'members.donePlan',
  cancelled: 'members.doneCancelled',
  created: 'members.doneCreated',
};

const subOf = (req: Request): number | undefined => (/^[1-9][0-9]{0,9}$/.test(String(req.params.sub)) ? Number(req.params.sub) : undefined);
const roleOf = (value: unknown): Role | undefined => (ROLES as readonly unknown[]).includes(value) ? (value as Role) : undefined;
const planOf = (value: unknown): PlanName | undefined => (PLAN_NAMES as readonly unknown[]).includes(value) ? (value as PlanName) : undefined;
const text = (value: unknown, max: number): string => (typeof value === 'string' ? value.slice(0, max) : '');

/**
 * The organisation's pages (DESIGN §12): Members (invite, change role, remove, leave, hand over
 * ownership — each behind a confirmation that says what will happen), Plan, and the switcher.
 * Every form works without JavaScript; every write is the API's own command, checked by the
 * API's own guard.
 */
export function organisationPages(ctx: AppContext, router: Router, session: DashboardSession): void {
  const { database } = ctx;
  const commands = createMemberCommands(ctx);

  async function showMembers(req: Request, res: Response, account: Account, extra: { form?: FormState; invited?: InvitationCreated & { email: string }; error?: string; status?: number } = {}) {
    const { t } = pageLocals(res);
    const ability = managementAbility(account.role, account.sub);
    const [members, invitations, organisation] = await Promise.all([
      listMembers(database, account.organisationId),
      listPendingInvitations(database.rm, account.organisationId, ctx.now()),
      organisationSummary(database.rm, account.organisationId),
    ]);
    const done = DONE_KEYS[text(req.query.done, 20)];
    renderPage(
      req,
      res,
      'members/members',
      {
        organisation: organisation?.name ?? '',
        me: account.sub,
        members,
        invitations,
        roles: ROLES,
        invitableRoles: INVITABLE_ROLES,
        styles: [assetUrl('members.css')],
        canManage: ability.can('manage', 'Member'),
        canInvite: ability.can('manage', 'Invitation'),
        canTransfer: ability.can('transfer', 'Organisation'),
        canDelete: ability.can('delete', 'Organisation'),
        form: extra.form ?? emptyForm({ idempotent: true }),
        invited: extra.invited,
        notice: req.method === 'GET' && done ? t(done) : undefined,
        error: extra.error,
      },
      { status: extra.status ?? 200, title: 'members.membersTitle', here: '/dashboard/members' },
    );
  }

  const refusal = (res: Response, error: unknown): { message: string; status: number } => {
    if (!(error instanceof ApiError) || error.status >= 500) throw error;
    const { t } = pageLocals(res);
    return { message: t(ERROR_KEYS[error.code] ?? 'members.errorGeneric'), status: error.status };
  };

  function confirm(req: Request, res: Response, input: { text: string; action: string; fields?: Record<string, string>; back: string }) {
    renderPage(req, res, 'members/confirm', { ...input, fields: input.fields ?? {}, form: emptyForm({ idempotent: true }), styles: [assetUrl('members.css')] }, { title: 'members.confirmTitle' });
  }

  /** Runs a write from a confirmation form: back to `back` with a notice, or the members page with the refusal. */
  async function write(req: Request, res: Response, account: Account, back: string, run: (key: string | undefined) => Promise<unknown>) {
    try {
      await run(submittedIdempotencyKey(req));
      res.redirect(303, back);
    } catch (error) {
      const { message, status } = refusal(res, error);
      await showMembers(req, res, account, { error: message, status });
    }
  }

  // ---- members

  router.get('/members', async (req, res) => {
    const account = await session.member(req, res, access.member('read', 'Member'));
    if (account) await showMembers(req, res, account);
  });

  router.post('/members/invite', async (req, res) => {
    const account = await session.member(req, res, access.member('manage', 'Invitation'));
    if (!account) return;
    const { t } = pageLocals(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const parsed = inviteBody.safeParse({ email: text(body.email, 300), role: text(body.role, 20) });
    if (!parsed.success) {
      const errors = fieldErrors(parsed.error, t, { email: 'members.errorEmail', role: 'members.errorRole' });
      return await showMembers(req, res, account, { form: resubmittedForm(req, ['email', 'role'], errors, t('dashboard.formHasErrors')), status: 400 });
    }
    try {
      const invited = await commands.invite(req, account, { ...parsed.data, language: pageLocals(res).lang }, submittedIdempotencyKey(req));
      // shown here, not after a redirect: without mail the link must reach the inviter
      await showMembers(req, res, account, { invited: { ...invited, email: parsed.data.email } });
    } catch (error) {
      const { message, status } = refusal(res, error);
      await showMembers(req, res, account, { form: resubmittedForm(req, ['email', 'role'], {}, message), status });
    }
  });

  router.get('/members/:sub/role', async (req, res) => {
    const account = await session.member(req, res, access.member('manage', 'Member'));
    if (!account) return;
    const { t } = pageLocals(res);
    const sub = subOf(req);
    const role = roleOf(req.query.role);
    const member = (await listMembers(database, account.organisationId)).find((m) => m.sub === sub);
    if (!member || !role) return await showMembers(req, res, account, { error: t('members.error_member_not_found'), status: 404 });
    confirm(req, res, {
      text: t('members.confirmRole', { name: member.name, role: t(`members.role_${role}`), help: t(`members.roleHelp_${role}`) }),
      action: `/dashboard/members/${member.sub}/role`,
      fields: { role },
      back: '/dashboard/members',
    });
  });

  router.post('/members/:sub/role', async (req, res) => {
    const account = await session.member(req, res, access.member('manage', 'Member'));
    if (!account) return;
    const sub = subOf(req);
    const role = roleOf((req.body as Record<string, unknown> | undefined)?.role);
    await write(req, res, account, '/dashboard/members?done=role', async (key) => {
      if (sub === undefined || !role) throw new ApiError(404, 'member_not_found', 'Not found');
      await commands.changeRole(req, account, sub, role, key);
    });
  });

  router.get('/members/:sub/remove', async (req, res) => {
    const sub = subOf(req);
    const account = await session.member(req, res, access.member('delete', 'Member'));
    if (!account) return;
    const { t } = pageLocals(res);
    const member = (await listMembers(database, account.organisationId)).find((m) => m.sub === sub);
    if (!member) return await showMembers(req, res, account, { error: t('members.error_member_not_found'), status: 404 });
    confirm(req, res, {
      text: member.sub === account.sub ? t('members.confirmLeave') : t('members.confirmRemove', { name: member.name }),
      action: `/dashboard/members/${member.sub}/remove`,
      back: '/dashboard/members',
    });
  });

  router.post('/members/:sub/remove', async (req, res) => {
    const account = await session.member(req, res, access.member('delete', 'Member'));
    if (!account) return;
    const sub = subOf(req);
    const leaving = sub === account.sub;
    await write(req, res, account, leaving ? '/dashboard' : '/dashboard/members?done=removed', async (key) => {
      if (sub === undefined) throw new ApiError(404, 'member_not_found', 'Not found');
      await commands.remove(req, account, sub, key);
    });
  });

  router.get('/members/:sub/transfer', async (req, res) => {
    const account = await session.member(req, res, access.member('transfer', 'Organisation'));
    if (!account) return;
    const { t } = pageLocals(res);
    const member = (await listMembers(database, account.organisationId)).find((m) => m.sub === subOf(req));
    if (!member) return await showMembers(req, res, account, { error: t('members.error_member_not_found'), status: 404 });
    confirm(req, res, { text: t('members.confirmTransfer', { name: member.name }), action: `/dashboard/members/${member.sub}/transfer`, back: '/dashboard/members' });
  });

  router.post('/members/:sub/transfer', async (req, res) => {
    const account = await session.member(req, res, access.member('transfer', 'Organisation'));
    if (!account) return;
    const sub = subOf(req);
    await write(req, res, account, '/dashboard/members?done=transferred', async (key) => {
      if (sub === undefined) throw new ApiError(404, 'member_not_found', 'Not found');
      await commands.transferOwnership(req, account, sub, key);
    });
  });

  router.get('/invitations/:invitationId/revoke', async (req, res) => {
    const account = await session.member(req, res, access.member('delete', 'Invitation'));
    if (!account) return;
    const { t } = pageLocals(res);
    const invitation = (await listPendingInvitations(database.rm, account.organisationId, ctx.now())).find((i) => i.invitationId === req.params.invitationId);
    if (!invitation) return await showMembers(req, res, account, { error: t('members.error_invitation_not_pending'), status: 404 });
    confirm(req, res, {
      text: t('members.confirmRevoke', { email: invitation.email }),
      action: `/dashboard/invitations/${encodeURIComponent(invitation.invitationId)}/revoke`,
      back: '/dashboard/members',
    });
  });

  router.post('/invitations/:invitationId/revoke', async (req, res) => {
    const account = await session.member(req, res, access.member('delete', 'Invitation'));
    if (!account) return;
    await write(req, res, account, '/dashboard/members?done=revoked', (key) => commands.revokeInvitation(req, account, String(req.params.invitationId), key));
  });

  // ---- plan

  async function showPlan(req: Request, res: Response, account: Account, error?: { message: string; status: number }) {
    const { t } = pageLocals(res);
    const organisation = await organisationSummary(database.rm, account.organisationId);
    const done = DONE_KEYS[text(req.query.done, 20)];
    renderPage(
      req,
      res,
      'members/plan',
      {
        plan: organisation?.plan ?? null,
        status: organisation?.plan_status ?? 'none',
        plans: PLAN_NAMES.map((name) => ({ name, limits: PLAN_LIMITS[name] })),
        canBill: managementAbility(account.role, account.sub).can('billing', 'Organisation'),
        styles: [assetUrl('members.css')],
        notice: done ? t(done) : undefined,
        error: error?.message,
      },
      { status: error?.status ?? 200, title: 'members.planTitle', here: '/dashboard/plan' },
    );
  }

  router.get('/plan', async (req, res) => {
    const account = await session.member(req, res, access.member('read', 'Organisation'));
    if (account) await showPlan(req, res, account);
  });

  router.get('/plan/activate', async (req, res) => {
    const account = await session.member(req, res, access.member('billing', 'Organisation'));
    if (!account) return;
    const plan = planOf(req.query.plan);
    if (!plan) return await showPlan(req, res, account, { message: pageLocals(res).t('members.errorGeneric'), status: 400 });
    const { t } = pageLocals(res);
    const limits = PLAN_LIMITS[plan];
    confirm(req, res, {
      text: t('members.confirmActivate', { plan: t(`members.plan_${plan}`), clients: limits.clients, domains: limits.domainsPerClient, secrets: limits.secretsPerClient, rate: limits.requestsPerMinute }),
      action: '/dashboard/plan/activate',
      fields: { plan },
      back: '/dashboard/plan',
    });
  });

  router.post('/plan/activate', async (req, res) => {
    const account = await session.member(req, res, access.member('billing', 'Organisation'));
    if (!account) return;
    const plan = planOf((req.body as Record<string, unknown> | undefined)?.plan);
    try {
      if (!plan) throw new ApiError(400, 'validation_failed', 'Invalid request');
      await commands.changePlan(req, account, { type: 'ActivatePlan', plan }, submittedIdempotencyKey(req));
      res.redirect(303, '/dashboard/plan?done=plan');
    } catch (error) {
      await showPlan(req, res, account, refusal(res, error));
    }
  });

  router.get('/plan/cancel', async (req, res) => {
    const account = await session.member(req, res, access.member('billing', 'Organisation'));
    if (account) confirm(req, res, { text: pageLocals(res).t('members.confirmCancel'), action: '/dashboard/plan/cancel', back: '/dashboard/plan' });
  });

  router.post('/plan/cancel', async (req, res) => {
    const account = await session.member(req, res, access.member('billing', 'Organisation'));
    if (!account) return;
    try {
      await commands.changePlan(req, account, { type: 'CancelPlan' }, submittedIdempotencyKey(req));
      res.redirect(303, '/dashboard/plan?done=cancelled');
    } catch (error) {
      await showPlan(req, res, account, refusal(res, error));
    }
  });

  // ---- the organisation switcher (in the layout of every logged-in page)

  const switchBody = z.object({ organisationId: z.string().min(1).max(100) });
  router.post('/organisation', async (req, res) => {
    const user = await session.current(req);
    if (!user) return res.redirect(303, '/dashboard/login');
    const parsed = switchBody.safeParse(req.body);
    if (!parsed.success) throw new ApiError(400, 'validation_failed', 'Invalid request');
    // another user's organisation: 404 page, as in the API
    await selectSessionOrganisation(database, user, parsed.data.organisationId);
    res.redirect(303, '/dashboard');
  });
}
