import type { ClientSlotReleaseReason, InvitableRole, OrganisationEvent, Role } from './events.ts';
import { PLAN_LIMITS, type PlanName } from './plans.ts';
import { decideMembership, type MembershipCommand, type Requester } from './membership.ts';

/**
 * The organisation aggregate: membership, plan, and the plan's client slots. Pure.
 *
 * The organisation's stream is the consistency boundary of the organisation-wide client limit:
 * a client takes a slot here (appended under the stream's expected revision, so two creates
 * anywhere cannot both take the last one) before its own stream is written, and gives it back
 * when it is deleted. The plan is decided in the same stream, so a create and a cancel or a
 * downgrade are ordered too.
 */
export interface OrganisationState {
  readonly exists: boolean;
  /** deleted by its owner: the stream stays (history), nothing can be done in it any more */
  readonly deleted: boolean;
  readonly name: string;
  readonly plan: PlanName | null;
  readonly planActive: boolean;
  readonly members: ReadonlyMap<number, Role>;
  /** every invitation ever made, by id (a used, revoked or expired one refuses its link with a reason) */
  readonly invitations: ReadonlyMap<string, InvitationState>;
  /** clientId → when its slot was reserved (ISO-8601); live clients and creations under way */
  readonly clientSlots: ReadonlyMap<string, string>;
}

export interface InvitationState {
  readonly email: string;
  readonly role: InvitableRole;
  readonly tokenHash: string;
  readonly expiresAt: string;
  readonly status: 'pending' | 'accepted' | 'revoked';
}

export const initialOrganisationState: OrganisationState = {
  exists: false,
  deleted: false,
  name: '',
  plan: null,
  planActive: false,
  members: new Map(),
  invitations: new Map(),
  clientSlots: new Map(),
};

export function evolveOrganisation(state: OrganisationState, event: OrganisationEvent): OrganisationState {
  switch (event.type) {
    case 'OrganisationCreated':
      return { ...state, exists: true, name: event.data.name };
    case 'OrganisationDeleted':
      return { ...state, exists: false, deleted: true, planActive: false };
    case 'MemberInvited': {
      const { invitationId, email, role, tokenHash, expiresAt } = event.data;
      return { ...state, invitations: new Map(state.invitations).set(invitationId, { email, role, tokenHash, expiresAt, status: 'pending' }) };
    }
    case 'InvitationRevoked':
      return { ...state, invitations: withInvitationStatus(state.invitations, event.data.invitationId, 'revoked') };
    case 'MemberAdded': {
      const members = new Map(state.members).set(event.data.sub, event.data.role);
      const { invitationId } = event.data;
      return { ...state, members, invitations: invitationId ? withInvitationStatus(state.invitations, invitationId, 'accepted') : state.invitations };
    }
    case 'MemberRoleChanged':
      return { ...state, members: new Map(state.members).set(event.data.sub, event.data.role) };
    case 'OwnershipTransferred':
      return { ...state, members: new Map(state.members).set(event.data.to, 'owner').set(event.data.from, 'admin') };
    case 'MemberRemoved': {
      const members = new Map(state.members);
      members.delete(event.data.sub);
      return { ...state, members };
    }
    case 'PlanActivated':
      return { ...state, plan: event.data.plan, planActive: true };
    case 'PlanCancelled':
      return { ...state, planActive: false };
    case 'ClientSlotReserved':
      return { ...state, clientSlots: new Map(state.clientSlots).set(event.data.clientId, event.data.reservedAt) };
    case 'ClientSlotReleased': {
      const clientSlots = new Map(state.clientSlots);
      clientSlots.delete(event.data.clientId);
      return { ...state, clientSlots };
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

function withInvitationStatus(
  invitations: ReadonlyMap<string, InvitationState>,
  invitationId: string,
  status: InvitationState['status'],
): ReadonlyMap<string, InvitationState> {
  const invitation = invitations.get(invitationId);
  return invitation ? new Map(invitations).set(invitationId, { ...invitation, status }) : invitations;
}

export const organisationAggregate = { initial: initialOrganisationState, evolve: evolveOrganisation };

/** Each refusal of the organisation's stream, with the HTTP status it answers with. */
export const ORGANISATION_ERROR_STATUS = {
  plan_already_active: 409,
  no_active_plan: 409,
  organisation_not_found: 404,
  organisation_exists: 409,
  plan_inactive: 403,
  plan_limit_clients: 403,
  forbidden: 403,
  member_not_found: 404,
  already_member: 409,
  already_owner: 409,
  last_owner: 409,
  invitation_exists: 409,
  invitation_not_found: 404,
  invitation_not_pending: 409,
  invitation_used: 410,
  invitation_expired: 410,
  invitation_revoked: 410,
  invitation_other_email: 403,
  organisation_has_clients: 409,
} as const;
export type OrganisationErrorCode = keyof typeof ORGANISATION_ERROR_STATUS;

export class OrganisationDomainError extends Error {
  constructor(
    readonly code: OrganisationErrorCode,
    message: string,
  ) {
    super(message);
  }

  get status(): (typeof ORGANISATION_ERROR_STATUS)[OrganisationErrorCode] {
    return ORGANISATION_ERROR_STATUS[this.code];
  }
}

export type OrganisationCommand =
  | { type: 'CreateOrganisation'; organisationId: string; name: string; ownerSub: number }
  | { type: 'ActivatePlan'; plan: PlanName }
  | { type: 'CancelPlan' }
  | { type: 'ReserveClientSlot'; clientId: string; now: string }
  | { type: 'ReleaseClientSlot'; clientId: string; reason: ClientSlotReleaseReason }
  | { type: 'DeleteOrganisation'; organisationId: string; by: Requester }
  | MembershipCommand;

export function decideOrganisation(command: OrganisationCommand, state: OrganisationState): OrganisationEvent[] {
  switch (command.type) {
    case 'CreateOrganisation':
      // Ids are derived from the request's key: an organisation already there was made by another request.
      if (state.exists || state.deleted) throw new OrganisationDomainError('organisation_exists', 'the organisation already exists');
      return [
        { type: 'OrganisationCreated', data: { organisationId: command.organisationId, name: command.name } },
        { type: 'MemberAdded', data: { sub: command.ownerSub, role: 'owner' } },
      ];
    case 'ActivatePlan':
      if (!state.exists) throw new OrganisationDomainError('organisation_not_found', 'the organisation does not exist');
      if (state.planActive && state.plan === command.plan) return [];
      // A downgrade below the clients already there is allowed: nothing is deleted, new clients
      // wait until enough are (ReserveClientSlot counts against the new plan).
      return [{ type: 'PlanActivated', data: { plan: command.plan, previousPlan: state.planActive ? state.plan : null } }];
    case 'CancelPlan':
      if (!state.planActive || !state.plan) throw new OrganisationDomainError('no_active_plan', 'there is no active plan to cancel');
      return [{ type: 'PlanCancelled', data: { plan: state.plan } }];
    case 'ReserveClientSlot': {
      if (!state.exists) throw new OrganisationDomainError('organisation_not_found', 'the organisation does not exist');
      if (!state.planActive || !state.plan) {
        throw new OrganisationDomainError('plan_inactive', 'activate a plan (starter, pro or business) before creating clients, domains or secrets');
      }
      // The same creation again (a retry completing what a failure left half-way): it holds its slot.
      if (state.clientSlots.has(command.clientId)) return [];
      const limit = PLAN_LIMITS[state.plan].clients;
      if (state.clientSlots.size >= limit) {
        throw new OrganisationDomainError('plan_limit_clients', `the ${state.plan} plan allows ${limit} client(s); delete one or upgrade`);
      }
      return [{ type: 'ClientSlotReserved', data: { clientId: command.clientId, reservedAt: command.now } }];
    }
    case 'DeleteOrganisation':
      return deleteOrganisation(command.organisationId, command.by, state);
    case 'ReleaseClientSlot':
      if (!state.clientSlots.has(command.clientId)) return [];
      return [{ type: 'ClientSlotReleased', data: { clientId: command.clientId, reason: command.reason } }];
    case 'InviteMember':
    case 'RevokeInvitation':
    case 'AcceptInvitation':
    case 'ChangeMemberRole':
    case 'RemoveMember':
    case 'TransferOwnership':
      if (!state.exists) throw new OrganisationDomainError('organisation_not_found', 'the organisation does not exist');
      return decideMembership(command, state);
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

/**
 * Only an owner deletes, and only an organisation without clients: deleting one with live clients
 * would break its users' sign-ins at once, so the clients go first, each by its own deletion (which
 * voids its open sign-in tokens). The members leave and the open invitations are revoked as events
 * of their own, so the history reads as it happened.
 */
function deleteOrganisation(organisationId: string, by: Requester, state: OrganisationState): OrganisationEvent[] {
  if (!state.exists) throw new OrganisationDomainError('organisation_not_found', 'the organisation does not exist');
  if (state.members.get(by.sub) !== 'owner') throw new OrganisationDomainError('forbidden', 'only an owner can delete the organisation');
  if (state.clientSlots.size > 0) {
    throw new OrganisationDomainError('organisation_has_clients', `the organisation has ${state.clientSlots.size} client(s); delete them first`);
  }
  const events: OrganisationEvent[] = [];
  for (const [invitationId, invitation] of state.invitations) {
    if (invitation.status === 'pending') events.push({ type: 'InvitationRevoked', data: { invitationId, email: invitation.email } });
  }
  for (const [sub, role] of state.members) events.push({ type: 'MemberRemoved', data: { sub, previousRole: role } });
  if (state.planActive && state.plan) events.push({ type: 'PlanCancelled', data: { plan: state.plan } });
  events.push({ type: 'OrganisationDeleted', data: { organisationId, name: state.name } });
  return events;
}

/** Slots reserved before `before` (ISO-8601): a creation that old is finished or dead. */
export function slotsReservedBefore(state: OrganisationState, before: string): string[] {
  const limit = Date.parse(before);
  return [...state.clientSlots].filter(([, reservedAt]) => Date.parse(reservedAt) < limit).map(([clientId]) => clientId);
}
