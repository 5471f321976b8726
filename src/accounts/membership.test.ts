import { describe, expect, it } from 'vitest';
import type { OrganisationEvent } from './events.ts';
import { OrganisationDomainError, decideOrganisation, evolveOrganisation, initialOrganisationState, type OrganisationCommand } from './organisation.ts';
import type { Requester } from './membership.ts';

// given events, when command, then events
function given(...history: OrganisationEvent[]) {
  const state = history.reduce(evolveOrganisation, initialOrganisationState);
  return {
    state,
    when(command: OrganisationCommand) {
      return {
        then: (expected: OrganisationEvent[]) => expect(decideOrganisation(command, state)).toEqual(expected),
        thenThrows(code: OrganisationDomainError['code']) {
          let caught: unknown;
          try {
            decideOrganisation(command, state);
          } catch (error) {
            caught = error;
          }
          expect(caught).toBeInstanceOf(OrganisationDomainError);
          expect((caught as OrganisationDomainError).code).toBe(code);
        },
      };
    },
  };
}

const ada = 1;
const bob = 2;
const cy = 3;
const created: OrganisationEvent = { type: 'OrganisationCreated', data: { organisationId: 'o1', name: 'Acme' } };
const added = (sub: number, role: 'owner' | 'admin' | 'developer' | 'viewer', invitationId?: string): OrganisationEvent => ({
  type: 'MemberAdded',
  data: { sub, role, ...(invitationId ? { invitationId } : {}) },
});
const founded = [created, added(ada, 'owner')];
const owner: Requester = { sub: ada, role: 'owner' };
const admin: Requester = { sub: bob, role: 'admin' };
const expiresAt = '2030-01-08T00:00:00.000Z';
const invited = (invitationId = 'inv1', email = 'cy@example.com'): OrganisationEvent => ({
  type: 'MemberInvited',
  data: { invitationId, email, role: 'developer', tokenHash: `hash-${invitationId}`, expiresAt, invitedBy: ada },
});
const invite = (invitationId = 'inv1', email = 'cy@example.com'): OrganisationCommand => ({
  type: 'InviteMember',
  invitationId,
  email,
  role: 'developer',
  tokenHash: `hash-${invitationId}`,
  expiresAt,
  by: owner,
  emailIsMember: false,
});
const accept = (overrides: Partial<Extract<OrganisationCommand, { type: 'AcceptInvitation' }>> = {}): OrganisationCommand => ({
  type: 'AcceptInvitation',
  invitationId: 'inv1',
  tokenHash: 'hash-inv1',
  sub: cy,
  email: 'cy@example.com',
  now: '2030-01-02T00:00:00.000Z',
  ...overrides,
});

describe('InviteMember', () => {
  it('when an email is invited, then MemberInvited with the token hash, never the token', () => {
    given(...founded).when(invite()).then([invited()]);
  });

  it('when the email is invited again, then the pending invitation is revoked and a new one made', () => {
    given(...founded, invited('inv1'))
      .when(invite('inv2'))
      .then([{ type: 'InvitationRevoked', data: { invitationId: 'inv1', email: 'cy@example.com' } }, invited('inv2')]);
  });

  it('when the same invitation id comes again (the request retried), then invitation_exists', () => {
    given(...founded, invited('inv1')).when(invite('inv1')).thenThrows('invitation_exists');
  });

  it('when the email belongs to a member, then already_member', () => {
    given(...founded).when({ ...invite(), emailIsMember: true } as OrganisationCommand).thenThrows('already_member');
  });

  it('when the organisation does not exist, then organisation_not_found', () => {
    given().when(invite()).thenThrows('organisation_not_found');
  });
});

describe('AcceptInvitation', () => {
  it('when the invitee accepts in time with the right token and email, then MemberAdded with the invitation id and its role', () => {
    given(...founded, invited()).when(accept()).then([added(cy, 'developer', 'inv1')]);
  });

  it('when the email differs only in case, then it is the same address', () => {
    given(...founded, invited()).when(accept({ email: 'CY@Example.com' })).then([added(cy, 'developer', 'inv1')]);
  });

  it('when it was used already, then invitation_used', () => {
    given(...founded, invited(), added(cy, 'developer', 'inv1')).when(accept({ sub: 9 })).thenThrows('invitation_used');
  });

  it('when it was revoked, then invitation_revoked', () => {
    given(...founded, invited(), { type: 'InvitationRevoked', data: { invitationId: 'inv1', email: 'cy@example.com' } })
      .when(accept())
      .thenThrows('invitation_revoked');
  });

  it('when it expired (at the very instant too), then invitation_expired', () => {
    given(...founded, invited()).when(accept({ now: expiresAt })).thenThrows('invitation_expired');
  });

  it('when the account has another email, then invitation_other_email and nothing joined', () => {
    given(...founded, invited()).when(accept({ email: 'eve@example.com' })).thenThrows('invitation_other_email');
  });

  it('when the token hash does not match, then invitation_not_found', () => {
    given(...founded, invited()).when(accept({ tokenHash: 'hash-other' })).thenThrows('invitation_not_found');
    given(...founded).when(accept()).thenThrows('invitation_not_found');
  });

  it('when the invitee is a member already, then already_member', () => {
    given(...founded, added(cy, 'viewer'), invited()).when(accept()).thenThrows('already_member');
  });
});

describe('RevokeInvitation', () => {
  it('revokes a pending invitation once', () => {
    given(...founded, invited())
      .when({ type: 'RevokeInvitation', invitationId: 'inv1' })
      .then([{ type: 'InvitationRevoked', data: { invitationId: 'inv1', email: 'cy@example.com' } }]);
    given(...founded, invited(), added(cy, 'developer', 'inv1')).when({ type: 'RevokeInvitation', invitationId: 'inv1' }).thenThrows('invitation_not_pending');
    given(...founded).when({ type: 'RevokeInvitation', invitationId: 'nope' }).thenThrows('invitation_not_found');
  });
});

describe('ChangeMemberRole', () => {
  it('when an admin changes a developer to viewer, then MemberRoleChanged with the previous role', () => {
    given(...founded, added(bob, 'admin'), added(cy, 'developer'))
      .when({ type: 'ChangeMemberRole', sub: cy, role: 'viewer', by: admin })
      .then([{ type: 'MemberRoleChanged', data: { sub: cy, role: 'viewer', previousRole: 'developer' } }]);
  });

  it('when the role is the same, then nothing', () => {
    given(...founded, added(cy, 'developer')).when({ type: 'ChangeMemberRole', sub: cy, role: 'developer', by: owner }).then([]);
  });

  it('when the last owner would be demoted, then last_owner', () => {
    given(...founded).when({ type: 'ChangeMemberRole', sub: ada, role: 'admin', by: owner }).thenThrows('last_owner');
  });

  it('when one of two owners is demoted, then it happens', () => {
    given(...founded, added(cy, 'owner'))
      .when({ type: 'ChangeMemberRole', sub: ada, role: 'admin', by: owner })
      .then([{ type: 'MemberRoleChanged', data: { sub: ada, role: 'admin', previousRole: 'owner' } }]);
  });

  it('when an admin touches an owner or makes one, then forbidden', () => {
    given(...founded, added(bob, 'admin'), added(cy, 'owner')).when({ type: 'ChangeMemberRole', sub: cy, role: 'viewer', by: admin }).thenThrows('forbidden');
    given(...founded, added(bob, 'admin'), added(cy, 'viewer')).when({ type: 'ChangeMemberRole', sub: cy, role: 'owner', by: admin }).thenThrows('forbidden');
  });

  it('when the user is not a member, then member_not_found', () => {
    given(...founded).when({ type: 'ChangeMemberRole', sub: 99, role: 'viewer', by: owner }).thenThrows('member_not_found');
  });
});

describe('RemoveMember', () => {
  it('when a member leaves or is removed, then MemberRemoved with their role', () => {
    given(...founded, added(cy, 'viewer'))
      .when({ type: 'RemoveMember', sub: cy, by: { sub: cy, role: 'viewer' } })
      .then([{ type: 'MemberRemoved', data: { sub: cy, previousRole: 'viewer' } }]);
    given(...founded, added(cy, 'viewer')).when({ type: 'RemoveMember', sub: cy, by: owner }).then([{ type: 'MemberRemoved', data: { sub: cy, previousRole: 'viewer' } }]);
  });

  it('when the last owner would leave, then last_owner', () => {
    given(...founded).when({ type: 'RemoveMember', sub: ada, by: owner }).thenThrows('last_owner');
  });

  it('when an admin removes an owner, then forbidden', () => {
    given(...founded, added(bob, 'admin'), added(cy, 'owner')).when({ type: 'RemoveMember', sub: cy, by: admin }).thenThrows('forbidden');
  });
});

describe('TransferOwnership', () => {
  it('when the owner hands over to a member, then OwnershipTransferred and the old owner is an admin', () => {
    const { state } = given(...founded, added(cy, 'developer'));
    const events = decideOrganisation({ type: 'TransferOwnership', to: cy, by: owner }, state);
    expect(events).toEqual([{ type: 'OwnershipTransferred', data: { from: ada, to: cy } }]);
    const after = events.reduce(evolveOrganisation, state);
    expect(after.members.get(cy)).toBe('owner');
    expect(after.members.get(ada)).toBe('admin');
  });

  it('when the target is not a member, or an owner already, or the caller is not an owner, then refused', () => {
    given(...founded).when({ type: 'TransferOwnership', to: 99, by: owner }).thenThrows('member_not_found');
    given(...founded, added(cy, 'owner')).when({ type: 'TransferOwnership', to: cy, by: owner }).thenThrows('already_owner');
    given(...founded, added(bob, 'admin'), added(cy, 'viewer')).when({ type: 'TransferOwnership', to: cy, by: admin }).thenThrows('forbidden');
  });
});

describe('evolve', () => {
  it('an accepted invitation is marked accepted, a revoked one revoked', () => {
    const { state } = given(...founded, invited('inv1'), invited('inv2', 'dan@example.com'), added(cy, 'developer', 'inv1'), {
      type: 'InvitationRevoked',
      data: { invitationId: 'inv2', email: 'dan@example.com' },
    });
    expect(state.invitations.get('inv1')?.status).toBe('accepted');
    expect(state.invitations.get('inv2')?.status).toBe('revoked');
  });
});
