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
