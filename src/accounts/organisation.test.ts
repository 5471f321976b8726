import { describe, expect, it } from 'vitest';
import type { OrganisationEvent } from './events.ts';
import { OrganisationDomainError, decideOrganisation, evolveOrganisation, initialOrganisationState, slotsReservedBefore, type OrganisationCommand } from './organisation.ts';

// given events, when command, then events
function given(...history: OrganisationEvent[]) {
  const state = history.reduce(evolveOrganisation, initialOrganisationState);
  return {
    state,
    when(command: OrganisationCommand) {
      return {
        then: (expected: OrganisationEvent[]) => expect(decideOrganisation(command, state)).toEqual(expected),
        thenThrows(code: OrganisationDomainError['code'], messageIncludes?: string) {
          let caught: unknown;
          try {
            decideOrganisation(command, state);
          } catch (error) {
            caught = error;
          }
          expect(caught).toBeInstanceOf(OrganisationDomainError);
          expect((caught as OrganisationDomainError).code).toBe(code);
          if (messageIncludes) expect((caught as OrganisationDomainError).message).toContain(messageIncludes);
        },
      };
    },
  };
}

const now = '2030-01-01T00:00:00.000Z';
const created: OrganisationEvent = { type: 'OrganisationCreated', data: { organisationId: 'o1', name: 'Acme' } };
const starter: OrganisationEvent = { type: 'PlanActivated', data: { plan: 'starter', previousPlan: null } };
const pro: OrganisationEvent = { type: 'PlanActivated', data: { plan: 'pro', previousPlan: null } };
const cancelled: OrganisationEvent = { type: 'PlanCancelled', data: { plan: 'starter' } };
const reserved = (clientId: string, reservedAt = now): OrganisationEvent => ({ type: 'ClientSlotReserved', data: { clientId, reservedAt } });
const released = (clientId: string): OrganisationEvent => ({ type: 'ClientSlotReleased', data: { clientId, reason: 'deleted' } });
const reserve = (clientId: string): OrganisationCommand => ({ type: 'ReserveClientSlot', clientId, now });

describe('ReserveClientSlot', () => {
  it('when a slot is free, then it is reserved with its time', () => {
    given(created, starter).when(reserve('c1')).then([reserved('c1')]);
  });

  it('when the plan is full, then plan_limit_clients naming plan and limit', () => {
    given(created, starter, reserved('c1')).when(reserve('c2')).thenThrows('plan_limit_clients', 'the starter plan allows 1 client');
  });

  it('when the same client asks again (a retried creation), then nothing new: it holds its slot', () => {
    given(created, starter, reserved('c1')).when(reserve('c1')).then([]);
  });

  it('when a slot was given back, then it can be taken again', () => {
    given(created, starter, reserved('c1'), released('c1')).when(reserve('c2')).then([reserved('c2')]);
  });

  it('when there is no active plan, then plan_inactive', () => {
    given(created).when(reserve('c1')).thenThrows('plan_inactive');
    given(created, starter, cancelled).when(reserve('c1')).thenThrows('plan_inactive');
  });

  it('when a downgrade left more clients than the plan allows, then new ones wait until enough are deleted', () => {
    const three = [reserved('c1'), reserved('c2'), reserved('c3')];
    given(created, pro, ...three, starter).when(reserve('c4')).thenThrows('plan_limit_clients');
    given(created, pro, ...three, starter, released('c1'), released('c2')).when(reserve('c4')).thenThrows('plan_limit_clients');
    given(created, pro, ...three, starter, released('c1'), released('c2'), released('c3')).when(reserve('c4')).then([reserved('c4')]);
  });

  it('when the organisation does not exist, then organisation_not_found', () => {
    given().when(reserve('c1')).thenThrows('organisation_not_found');
  });
});

describe('ReleaseClientSlot', () => {
  it('gives a held slot back once', () => {
    given(created, starter, reserved('c1')).when({ type: 'ReleaseClientSlot', clientId: 'c1', reason: 'deleted' }).then([released('c1')]);
    given(created, starter, reserved('c1'), released('c1')).when({ type: 'ReleaseClientSlot', clientId: 'c1', reason: 'deleted' }).then([]);
  });
});

describe('CreateOrganisation', () => {
  it('when the organisation exists already, then organisation_exists (its id came from another request)', () => {
    given(created).when({ type: 'CreateOrganisation', organisationId: 'o1', name: 'Acme', ownerSub: 1 }).thenThrows('organisation_exists');
  });
});

describe('slotsReservedBefore', () => {
  it('lists the slots reserved before the given time', () => {
    const { state } = given(created, starter, reserved('old', '2029-12-31T23:00:00.000Z'), reserved('new', now));
    expect(slotsReservedBefore(state, '2029-12-31T23:30:00.000Z')).toEqual(['old']);
  });
});

describe('DeleteOrganisation', () => {
  const owner = { sub: 1, role: 'owner' as const };
  const founded: OrganisationEvent = { type: 'MemberAdded', data: { sub: 1, role: 'owner' } };
  const admin: OrganisationEvent = { type: 'MemberAdded', data: { sub: 2, role: 'admin' } };
  const invited: OrganisationEvent = {
    type: 'MemberInvited',
    data: { invitationId: 'i1', email: 'x@example.com', role: 'viewer', tokenHash: 'h', expiresAt: now, invitedBy: 1 },
  };
  const remove = (by = owner): OrganisationCommand => ({ type: 'DeleteOrganisation', organisationId: 'o1', by });

  it('when it has no clients, then the invitations are revoked, the members removed, the plan cancelled, and it is deleted, in that order', () => {
    given(created, founded, admin, invited, starter).when(remove()).then([
      { type: 'InvitationRevoked', data: { invitationId: 'i1', email: 'x@example.com' } },
      { type: 'MemberRemoved', data: { sub: 1, previousRole: 'owner' } },
      { type: 'MemberRemoved', data: { sub: 2, previousRole: 'admin' } },
      { type: 'PlanCancelled', data: { plan: 'starter' } },
      { type: 'OrganisationDeleted', data: { organisationId: 'o1', name: 'Acme' } },
    ]);
  });

  it('when a client holds a slot, then organisation_has_clients naming how many; an admin is refused', () => {
    given(created, founded, starter, reserved('c1')).when(remove()).thenThrows('organisation_has_clients', '1 client');
    given(created, founded, admin).when(remove({ sub: 2, role: 'owner' })).thenThrows('forbidden');
  });

  it('when it is deleted, then nothing more happens in it: no second deletion, no plan, no re-creation', () => {
    const history = [created, founded, { type: 'MemberRemoved', data: { sub: 1, previousRole: 'owner' } } as OrganisationEvent, { type: 'OrganisationDeleted', data: { organisationId: 'o1', name: 'Acme' } } as OrganisationEvent];
    given(...history).when(remove()).thenThrows('organisation_not_found');
    given(...history).when({ type: 'ActivatePlan', plan: 'pro' }).thenThrows('organisation_not_found');
    given(...history).when({ type: 'CreateOrganisation', organisationId: 'o1', name: 'Again', ownerSub: 1 }).thenThrows('organisation_exists');
  });
});
