import { z } from 'zod';
import { manageRoutes } from '../http/manage-routes.ts';
import { isoTime, positionText } from '../http/schemas.ts';
import { INVITABLE_ROLES, ROLES } from './events.ts';
import { access } from './guard.ts';

/** Members and invitations of the session's organisation (DESIGN §12): contracts; handlers in member-routes.ts. */

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

const position = positionText.nullable();
export const memberResponse = z.object({ sub: z.number().int(), email: z.string(), name: z.string(), role: roleEnum, since: isoTime }).meta({ id: 'Member' });
export const membersResponse = z.array(memberResponse);
export const changeRoleResponse = z.object({ sub: z.number().int(), role: roleEnum, changed: z.boolean(), position });
export const removeMemberResponse = z.object({ sub: z.number().int(), removed: z.literal(true), left: z.boolean(), position });
export const transferOwnershipResponse = z.object({ from: z.number().int(), to: z.number().int(), position });
export const invitationResponse = z
  .object({
    invitationId: z.string(),
    email: z.string(),
    role: roleEnum,
    invitedBy: z.number().int(),
    invitedAt: isoTime,
    expiresAt: isoTime,
  })
  .meta({ id: 'Invitation' });
export const invitationsResponse = z.array(invitationResponse);
export const invitationCreatedResponse = z.object({
  invitationId: z.string(),
  url: z.string().meta({ description: 'the link to send; it carries the token, shown this once' }),
  expiresAt: isoTime,
  mailed: z.boolean(),
  position,
});
export const invitationRevokedResponse = z.object({ invitationId: z.string(), status: z.literal('revoked'), position });
export const invitationAcceptedResponse = z.object({
  invitationId: z.string(),
  organisation: z.object({ id: z.string(), name: z.string() }),
  role: roleEnum.nullable(),
  position,
});

const tags = ['Members'];

export const memberRoutes = manageRoutes({
  listMembers: {
    method: 'get',
    path: '/members',
    summary: "The organisation's members, owners first",
    tags,
    access: access.member('read', 'Member'),
    request: {},
    responses: { 200: { description: 'the members', schema: membersResponse } },
  },
  transferOwnership: {
    method: 'post',
    path: '/members/transfer-ownership',
    summary: 'Hand the ownership over to another member (the owner becomes an admin)',
    tags,
    access: access.member('transfer', 'Organisation'),
    request: { body: transferOwnershipBody },
    responses: { 200: { description: 'transferred', schema: transferOwnershipResponse } },
    errors: [404, 409],
  },
  changeMemberRole: {
    method: 'patch',
    path: '/members/:sub',
    summary: "Change a member's role",
    tags,
    access: access.member('manage', 'Member'),
    request: { params: memberSubParams, body: changeRoleBody },
    responses: { 200: { description: 'changed (or already so)', schema: changeRoleResponse } },
    errors: [404, 409],
  },
  removeMember: {
    method: 'delete',
    path: '/members/:sub',
    summary: 'Remove a member; any member may remove themselves (leave)',
    tags,
    access: access.member('delete', 'Member'),
    request: { params: memberSubParams },
    responses: { 200: { description: 'removed', schema: removeMemberResponse } },
    errors: [404, 409],
  },
  listInvitations: {
    method: 'get',
    path: '/invitations',
    summary: 'Invitations still waiting for their invitee',
    tags,
    access: access.member('read', 'Invitation'),
    request: {},
    responses: { 200: { description: 'the pending invitations', schema: invitationsResponse } },
  },
  acceptInvitation: {
    method: 'post',
    path: '/invitations/accept',
    summary: "Accept an invitation with its link's token (as the invited, logged-in user)",
    tags,
    access: access.session,
    request: { body: acceptInvitationBody },
    responses: { 200: { description: 'accepted: the session now acts in that organisation', schema: invitationAcceptedResponse } },
    errors: [404, 409, 410],
  },
  invite: {
    method: 'post',
    path: '/invitations',
    summary: 'Invite someone by email, with a role',
    tags,
    access: access.member('manage', 'Invitation'),
    request: { body: inviteBody },
    responses: { 201: { description: 'invited', schema: invitationCreatedResponse } },
    errors: [409],
  },
  revokeInvitation: {
    method: 'delete',
    path: '/invitations/:invitationId',
    summary: 'Revoke a pending invitation',
    tags,
    access: access.member('delete', 'Invitation'),
    request: { params: invitationIdParams },
    responses: { 200: { description: 'revoked', schema: invitationRevokedResponse } },
    errors: [404, 409, 410],
  },
});
