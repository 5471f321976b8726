import { Router, type Request } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { parseInput } from '../http/problem.ts';
import { INVITABLE_ROLES, ROLES } from './events.ts';
import { access, createGuard } from './guard.ts';
import { accountOf, sessionOf } from './sessions.ts';
import { createMemberCommands } from './member-commands.ts';
import { listMembers, listPendingInvitations } from './member-queries.ts';
import { MAIL_LANGUAGES, type MailLanguage } from './invitation-mail.ts';

// Request and response schemas (for the route table and the OpenAPI document).
const roleEnum = z.enum(ROLES, { message: `must be one of ${ROLES.join(', ')}` });
const invitableRoleEnum = z.enum(INVITABLE_ROLES, { message: `must be one of ${INVITABLE_ROLES.join(', ')} (ownership is transferred, not invited)` });
export const memberSubParams = z.strictObject({ sub: z.coerce.number().int('must be a user sub').positive('must be a user sub').max(2_147_483_647) });
export const invitationIdParams = z.strictObject({ invitationId: z.string().regex(/^inv_[A-Za-z0-9]{1,40}$/, 'must be an invitation id (inv_…)') });
export const changeRoleBody = z.strictObject({ role: roleEnum });
export const transferOwnershipBody = z.strictObject({ sub: z.number().int('must be a user sub').positive('must be a user sub') });
export const inviteBody = z.strictObject({
  email: z.string().trim().max(254, 'must be at most 254 characters').pipe(z.email('must be an email address')),
  role: invitableRoleEnum,
});
export const acceptInvitationBody = z.strictObject({ token: z.string().regex(/^[A-Za-z0-9_-]{20,100}$/, 'must be the token of an invitation link') });

const position = z.string().nullable();
export const memberResponse = z.object({ sub: z.number(), email: z.string(), name: z.string(), role: roleEnum, since: z.iso.datetime() });
export const membersResponse = z.array(memberResponse);
export const changeRoleResponse = z.object({ sub: z.number(), role: roleEnum, changed: z.boolean(), position });
export const removeMemberResponse = z.object({ sub: z.number(), removed: z.literal(true), left: z.boolean(), position });
export const transferOwnershipResponse = z.object({ from: z.number(), to: z.number(), position });
export const invitationResponse = z.object({
  invitationId: z.string(),
  email: z.string(),
  role: roleEnum,
  invitedBy: z.number(),
  invitedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});
export const invitationsResponse = z.array(invitationResponse);
export const invitationCreatedResponse = z.object({ invitationId: z.string(), url: z.string(), expiresAt: z.iso.datetime(), mailed: z.boolean(), position });
export const invitationRevokedResponse = z.object({ invitationId: z.string(), status: z.literal('revoked'), position });
export const invitationAcceptedResponse = z.object({
  invitationId: z.string(),
  organisation: z.object({ id: z.string(), name: z.string() }),
  role: roleEnum.nullable(),
  position,
});

/** The language of mail the caller sends (the invitee has no account yet to ask). */
export const mailLanguageOf = (req: Request): MailLanguage => {
  const chosen = req.acceptsLanguages([...MAIL_LANGUAGES]);
  return chosen === 'nl' ? 'nl' : 'en';
};

/** Members and invitations of the session's organisation (DESIGN §12). */
export function membersApi(ctx: AppContext): Router {
  const router = Router();
  const guard = createGuard(ctx);
  const members = createMemberCommands(ctx);

  router.get('/members', guard(access.member('read', 'Member')), async (req, res) => {
    res.json(await listMembers(ctx.database, accountOf(req).organisationId));
  });

  router.post('/members/transfer-ownership', guard(access.member('transfer', 'Organisation')), async (req, res) => {
    const { sub } = parseInput(transferOwnershipBody, req.body);
    res.json(await members.transferOwnership(req, accountOf(req), sub));
  });

  router.patch('/members/:sub', guard(access.member('manage', 'Member')), async (req, res) => {
    const { sub } = parseInput(memberSubParams, req.params);
    const { role } = parseInput(changeRoleBody, req.body);
    res.json(await members.changeRole(req, accountOf(req), sub, role));
  });

  // an admin removes a member; any member removes themselves (leaves): the ability's condition
  router.delete('/members/:sub', guard(access.member('delete', 'Member')), async (req, res) => {
    const { sub } = parseInput(memberSubParams, req.params);
    res.json(await members.remove(req, accountOf(req), sub));
  });

  router.get('/invitations', guard(access.member('read', 'Invitation')), async (req, res) => {
    res.json(await listPendingInvitations(ctx.database.rm, accountOf(req).organisationId, ctx.now()));
  });

  router.post('/invitations/accept', guard(access.session), async (req, res) => {
    const { token } = parseInput(acceptInvitationBody, req.body);
    res.json(await members.accept(req, sessionOf(req), token));
  });

  router.post('/invitations', guard(access.member('manage', 'Invitation')), async (req, res) => {
    const body = parseInput(inviteBody, req.body);
    res.status(201).json(await members.invite(req, accountOf(req), { ...body, language: mailLanguageOf(req) }));
  });

  router.delete('/invitations/:invitationId', guard(access.member('delete', 'Invitation')), async (req, res) => {
    const { invitationId } = parseInput(invitationIdParams, req.params);
    res.json(await members.revokeInvitation(req, accountOf(req), invitationId));
  });

  return router;
}
