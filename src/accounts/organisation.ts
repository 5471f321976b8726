import type { ClientSlotReleaseReason, OrganisationEvent, Role } from './events.ts';
import { PLAN_LIMITS, type PlanName } from './plans.ts';

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
  readonly plan: PlanName | null;
  readonly planActive: boolean;
  readonly members: ReadonlyMap<number, Role>;
  /** clientId → when its slot was reserved (ISO-8601); live clients and creations under way */
  readonly clientSlots: ReadonlyMap<string, string>;
}

export const initialOrganisationState: OrganisationState = {
  exists: false,
  plan: null,
  planActive: false,
  members: new Map(),
  clientSlots: new Map(),
};

export function evolveOrganisation(state: OrganisationState, event: OrganisationEvent): OrganisationState {
  switch (event.type) {
    case 'OrganisationCreated':
      return { ...state, exists: true };
    case 'MemberAdded':
    case 'MemberRoleChanged':
      return { ...state, members: new Map(state.members).set(event.data.sub, event.data.role) };
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

export const organisationAggregate = { initial: initialOrganisationState, evolve: evolveOrganisation };

export type OrganisationErrorCode = 'plan_already_active' | 'no_active_plan' | 'organisation_not_found' | 'organisation_exists' | 'plan_inactive' | 'plan_limit_clients';

export class OrganisationDomainError extends Error {
  constructor(
    readonly code: OrganisationErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type OrganisationCommand =
  | { type: 'CreateOrganisation'; organisationId: string; name: string; ownerSub: number }
  | { type: 'ActivatePlan'; plan: PlanName }
  | { type: 'CancelPlan' }
  | { type: 'ReserveClientSlot'; clientId: string; now: string }
  | { type: 'ReleaseClientSlot'; clientId: string; reason: ClientSlotReleaseReason };

export function decideOrganisation(command: OrganisationCommand, state: OrganisationState): OrganisationEvent[] {
  switch (command.type) {
    case 'CreateOrganisation':
      // Ids are derived from the request's key: an organisation already there was made by another request.
      if (state.exists) throw new OrganisationDomainError('organisation_exists', 'the organisation already exists');
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
    case 'ReleaseClientSlot':
      if (!state.clientSlots.has(command.clientId)) return [];
      return [{ type: 'ClientSlotReleased', data: { clientId: command.clientId, reason: command.reason } }];
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

/** Slots reserved before `before` (ISO-8601): a creation that old is finished or dead. */
export function slotsReservedBefore(state: OrganisationState, before: string): string[] {
  const limit = Date.parse(before);
  return [...state.clientSlots].filter(([, reservedAt]) => Date.parse(reservedAt) < limit).map(([clientId]) => clientId);
}
