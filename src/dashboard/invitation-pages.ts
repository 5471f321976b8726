import type { Request, Response, Router } from 'express';
import type { AppContext } from '../context.ts';
import { createMemberCommands } from '../accounts/member-commands.ts';
import { ApiError } from '../http/problem.ts';
import { type MessageKey, type PageLayer, assetUrl, pageLocals, renderPage, submittedIdempotencyKey } from '../web/layer.ts';
import { createDashboardSession } from './session.ts';

type Problem = 'used' | 'expired' | 'revoked' | 'otherEmail' | 'unknown' | 'alreadyMember' | 'tooMany';

const PROBLEMS: Record<Problem, readonly [MessageKey, MessageKey, number]> = {
  used: ['members.invitationUsedTitle', 'members.invitationUsedBody', 410],
  expired: ['members.invitationExpiredTitle', 'members.invitationExpiredBody', 410],
  revoked: ['members.invitationRevokedTitle', 'members.invitationRevokedBody', 410],
  otherEmail: ['members.invitationOtherEmailTitle', 'members.invitationOtherEmailBody', 403],
  unknown: ['members.invitationUnknownTitle', 'members.invitationUnknownBody', 404],
  alreadyMember: ['members.invitationAlreadyMemberTitle', 'members.invitationAlreadyMemberBody', 409],
  tooMany: ['members.invitationTooManyTitle', 'members.invitationTooManyBody', 429],
};

const CODES: Readonly<Record<string, Problem>> = {
  invitation_used: 'used',
  invitation_expired: 'expired',
  invitation_revoked: 'revoked',
  invitation_other_email: 'otherEmail',
  invitation_not_found: 'unknown',
  already_member: 'alreadyMember',
  too_many_attempts: 'tooMany',
};

/**
 * The invitation link's page, `GET/POST /invitations/:token` (DESIGN §12): it says who invited
 * whom to what; a visitor logs in or registers (and comes back here), then joins with one
 * button. Used, expired, withdrawn, unknown or someone else's: a page saying so, nothing joined.
 * The join is the API's own command (`POST /manage/v1/invitations/accept`).
 */
export function invitationPages(ctx: AppContext, pages: PageLayer): Router {
  const router = pages.router();
  const session = createDashboardSession(ctx);
  const commands = createMemberCommands(ctx);
  const styles = [assetUrl('members.css')];

  function problem(req: Request, res: Response, kind: Problem, vars: Record<string, string | number> = {}) {
    const { t } = pageLocals(res);
    const [title, body, status] = PROBLEMS[kind];
    renderPage(req, res, 'members/invitation', { heading: t(title), text: t(body, vars), styles }, { status, title });
  }

  function refused(req: Request, res: Response, error: unknown, email: string) {
    const kind = error instanceof ApiError ? CODES[error.code] : undefined;
    if (!kind) throw error;
    if (kind === 'tooMany') res.set('Retry-After', String((error as ApiError).headers?.['Retry-After'] ?? '60'));
    problem(req, res, kind, { email, seconds: Number((error as ApiError).headers?.['Retry-After'] ?? 60) });
  }

  router.get('/:token', async (req, res) => {
    const token = String(req.params.token);
    const user = await session.current(req);
    if (user) await session.signedIn(req, res, user);
    let invitation;
    try {
      invitation = await commands.inspect(req, user, token);
    } catch (error) {
      return refused(req, res, error, user?.email ?? '');
    }
    if (invitation.state === 'accepted') return problem(req, res, 'used');
    if (invitation.state === 'expired') return problem(req, res, 'expired');
    if (invitation.state === 'revoked') return problem(req, res, 'revoked');
    if (user && user.email.toLowerCase() !== invitation.email) return problem(req, res, 'otherEmail', { email: user.email });
    const { t } = pageLocals(res);
    const here = `/invitations/${token}`;
    renderPage(
      req,
      res,
      'members/invitation',
      {
        heading: t('members.invitationTitle'),
        text: t('members.invitationBody', { inviter: invitation.inviter, email: invitation.email, organisation: invitation.organisation, role: t(`members.role_${invitation.role}`) }),
        styles,
        ...(user
          ? { join: { action: here, label: t('members.invitationJoin', { organisation: invitation.organisation }) } }
          : {
              login: {
                text: t('members.invitationLogin', { email: invitation.email }),
                loginHref: `/dashboard/login?next=${encodeURIComponent(here)}`,
                registerHref: `/dashboard/register?next=${encodeURIComponent(here)}`,
              },
            }),
      },
      { title: 'members.invitationTitle' },
    );
  });

  router.post('/:token', async (req, res) => {
    const token = String(req.params.token);
    const user = await session.current(req);
    if (!user) return res.redirect(303, `/dashboard/login?next=${encodeURIComponent(`/invitations/${token}`)}`);
    try {
      await commands.accept(req, user, token, submittedIdempotencyKey(req));
    } catch (error) {
      await session.signedIn(req, res, user);
      return refused(req, res, error, user.email);
    }
    res.redirect(303, '/dashboard/members');
  });

  return pages.finish(router);
}
