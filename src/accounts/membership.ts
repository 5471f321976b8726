import { timingSafeEqual } from 'node:crypto';
import type { InvitableRole, OrganisationEvent, Role } from './events.ts';
import { OrganisationDomainError, type OrganisationState } from './organisation.ts';

/**
 * Members and invitations of an organisation (DESIGN §4, §12): decided in the organisation's own
 * stream, so "the last owner" and "a link is used once" hold under concurrent requests (the
 * append's expected revision settles races). Pure: the clock is part of the command.
 *
 * Who may ask for a command at all is the role's ability (src/accounts/ability.ts, checked by the
 * route guard); what is decided here are the rules that depend on the organisation's state.
 */

/** The member asking, as the guard resolved them. */
export interface Requester {
  readonly sub: number;
  readonly role: Role;
}

export type MembershipCommand =
  | {
      type: 'InviteMember';
      invitationId: string;
      /** lower-case */
      email: string;
      role: InvitableRole;
      tokenHash: string;
      expiresAt: string;
      by: Requester;
      /** whether the email is an account that is a member already (the route looks it up) */
      emailIsMember: boolean;
    }
  | { type: 'RevokeInvitation'; invitationId: string }
  | { type: 'AcceptInvitation'; invitationId: string; tokenHash: string; sub: number; email: string; now: string }
  | { type: 'ChangeMemberRole'; sub: number; role: Role; by: Requester }
  | { type: 'RemoveMember'; sub: number; by: Requester }
  | { type: 'TransferOwnership'; to: number; by: Requester };

const refuse = (code: OrganisationDomainError['code'], message: string) => new OrganisationDomainError(code, message);

const ownerCount = (state: OrganisationState) => [...state.members.values()].filter((role) => role === 'owner').length;

function roleOf(state: OrganisationState, sub: number): Role {
  const role = state.members.get(sub);
  if (!role) throw refuse('member_not_found', `user ${sub} is not a member of this organisation`);
  return role;
}

/** Only an owner touches an owner: an admin can neither demote, remove nor make one. */
function ownersOnly(by: Requester, what: string): void {
  if (by.role !== 'owner') throw refuse('forbidden', `only an owner can ${what}`);
}

function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function decideMembership(command: MembershipCommand, state: OrganisationState): OrganisationEvent[] {
  switch (command.type) {
    case 'InviteMember': {
      // its id comes from the request's key: the same request again
      if (state.invitations.has(command.invitationId)) throw refuse('invitation_exists', `invitation ${command.invitationId} exists already`);
      if (command.emailIsMember) throw refuse('already_member', `${command.email} is already a member of this organisation`);
      // A new invitation to the same address replaces the pending one: only the newest link works.
      const replaced = [...state.invitations]
        .filter(([, invitation]) => invitation.status === 'pending' && invitation.email === command.email)
        .map(([invitationId]): OrganisationEvent => ({ type: 'InvitationRevoked', data: { invitationId, email: command.email } }));
      const { invitationId, email, role, tokenHash, expiresAt } = command;
      return [...replaced, { type: 'MemberInvited', data: { invitationId, email, role, tokenHash, expiresAt, invitedBy: command.by.sub } }];
    }
    case 'RevokeInvitation': {
      const invitation = state.invitations.get(command.invitationId);
      if (!invitation) throw refuse('invitation_not_found', `invitation ${command.invitationId} was not found`);
      if (invitation.status !== 'pending') throw refuse('invitation_not_pending', `invitation ${command.invitationId} was already ${invitation.status}`);
      return [{ type: 'InvitationRevoked', data: { invitationId: command.invitationId, email: invitation.email } }];
    }
    case 'AcceptInvitation': {
      const invitation = state.invitations.get(command.invitationId);
      if (!invitation || !sameHash(invitation.tokenHash, command.tokenHash)) throw refuse('invitation_not_found', 'this invitation link is not valid');
      if (invitation.status === 'accepted') throw refuse('invitation_used', 'this invitation link was used already; ask for a new one');
      if (invitation.status === 'revoked') throw refuse('invitation_revoked', 'this invitation was withdrawn; ask for a new one');
      if (Date.parse(command.now) >= Date.parse(invitation.expiresAt)) {
        throw refuse('invitation_expired', `this invitation expired on ${invitation.expiresAt}; ask for a new one`);
      }
      if (invitation.email !== command.email.toLowerCase()) {
        throw refuse('invitation_other_email', 'this invitation was sent to another email address; log in with the account of that address');
      }
      if (state.members.has(command.sub)) throw refuse('already_member', 'you are already a member of this organisation');
      return [{ type: 'MemberAdded', data: { sub: command.sub, role: invitation.role, invitationId: command.invitationId } }];
    }
    case 'ChangeMemberRole': {
      const previousRole = roleOf(state, command.sub);
      if (previousRole === command.role) return [];
      if (previousRole === 'owner' || command.role === 'owner') ownersOnly(command.by, 'make or demote an owner');
      if (previousRole === 'owner' && ownerCount(state) === 1) {
        throw refuse('last_owner', 'the last owner cannot be demoted; transfer ownership first');
      }
      return [{ type: 'MemberRoleChanged', data: { sub: command.sub, role: command.role, previousRole } }];
    }
    case 'RemoveMember': {
      const previousRole = roleOf(state, command.sub);
      const leaving = command.sub === command.by.sub;
      if (previousRole === 'owner' && !leaving) ownersOnly(command.by, 'remove an owner');
      if (previousRole === 'owner' && ownerCount(state) === 1) {
        throw refuse('last_owner', leaving ? 'the last owner cannot leave; transfer ownership first' : 'the last owner cannot be removed');
      }
      return [{ type: 'MemberRemoved', data: { sub: command.sub, previousRole } }];
    }
    case 'TransferOwnership': {
      ownersOnly(command.by, 'transfer ownership');
      if (roleOf(state, command.by.sub) !== 'owner') throw refuse('forbidden', 'only an owner can transfer ownership');
      const role = roleOf(state, command.to);
      if (role === 'owner') throw refuse('already_owner', `user ${command.to} is an owner already`);
      return [{ type: 'OwnershipTransferred', data: { from: command.by.sub, to: command.to } }];
    }
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}
