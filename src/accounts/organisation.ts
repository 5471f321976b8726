import type { OrganisationEvent, Role } from './events.ts';
import type { PlanName } from './plans.ts';

/** The organisation aggregate: membership and plan. Pure. */
export interface OrganisationState {
  readonly exists: boolean;
  readonly plan: PlanName | null;
  readonly planActive: boolean;
  readonly members: ReadonlyMap<number, Role>;
}

export const initialOrganisationState: OrganisationState = { exists: false, plan: null, planActive: false, members: new Map() };

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
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export const organisationAggregate = { initial: initialOrganisationState, evolve: evolveOrganisation };

export class OrganisationDomainError extends Error {
  constructor(
    readonly code: 'plan_already_active' | 'no_active_plan' | 'organisation_not_found' | 'organisation_exists',
    message: string,
  ) {
    super(message);
  }
}

export type OrganisationCommand =
  | { type: 'CreateOrganisation'; organisationId: string; name: string; ownerSub: number }
  | { type: 'ActivatePlan'; plan: PlanName }
  | { type: 'CancelPlan' };

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
      return [{ type: 'PlanActivated', data: { plan: command.plan, previousPlan: state.planActive ? state.plan : null } }];
    case 'CancelPlan':
      if (!state.planActive || !state.plan) throw new OrganisationDomainError('no_active_plan', 'there is no active plan to cancel');
      return [{ type: 'PlanCancelled', data: { plan: state.plan } }];
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}
