import type { KnownEvent, Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';
import { isOrganisationEventType, type OrganisationEvent } from '../src/accounts/events.ts';

const isOrganisationEvent = (event: KnownEvent): event is KnownEvent & OrganisationEvent => isOrganisationEventType(event.type);

/** organisations (with their plan), members and invitations. */
export const organisationsProjection: Projection = {
  name: 'organisations',
  project(event, changes) {
    const organisationId = streamEntityId(event.stream, 'organisation');
    if (!organisationId || !isOrganisationEvent(event)) return;
    const at = eventTime(event);
    const organisation = { organisation_id: organisationId };
    switch (event.type) {
      case 'OrganisationCreated':
        return changes.insert('organisations', {
          organisation_id: organisationId,
          name: event.data.name,
          plan: null,
          plan_status: 'none',
          plan_activated_at: null,
          plan_cancelled_at: null,
          created_at: at,
        });
      case 'MemberInvited': {
        const { invitationId, email, role, tokenHash, expiresAt, invitedBy } = event.data;
        return changes.insert('invitations', {
          invitation_id: invitationId,
          organisation_id: organisationId,
          email,
          role,
          token_hash: tokenHash,
          invited_by: invitedBy,
          invited_at: at,
          expires_at: expiresAt,
          status: 'pending',
          accepted_by: null,
          settled_at: null,
        });
      }
      case 'InvitationRevoked':
        return changes.update('invitations', { invitation_id: event.data.invitationId }, { status: 'revoked', settled_at: at });
      case 'MemberAdded': {
        const { invitationId } = event.data;
        changes.upsert('members', { organisation_id: organisationId, user_sub: event.data.sub, role: event.data.role, added_at: at }, ['role']);
        if (invitationId) changes.update('invitations', { invitation_id: invitationId }, { status: 'accepted', accepted_by: event.data.sub, settled_at: at });
        return;
      }
      case 'OwnershipTransferred':
        changes.update('members', { organisation_id: organisationId, user_sub: event.data.from }, { role: 'admin' });
        return changes.update('members', { organisation_id: organisationId, user_sub: event.data.to }, { role: 'owner' });
      case 'MemberRoleChanged':
        return changes.update('members', { organisation_id: organisationId, user_sub: event.data.sub }, { role: event.data.role });
      case 'MemberRemoved':
        return changes.delete('members', { organisation_id: organisationId, user_sub: event.data.sub });
      case 'PlanActivated':
        return changes.update('organisations', organisation, { plan: event.data.plan, plan_status: 'active', plan_activated_at: at, plan_cancelled_at: null });
      case 'PlanCancelled':
        return changes.update('organisations', organisation, { plan_status: 'cancelled', plan_cancelled_at: at });
      case 'OrganisationDeleted':
        // its members and invitations were settled by the events before this one
        return changes.delete('organisations', organisation);
      case 'ClientSlotReserved':
      case 'ClientSlotReleased':
        // the quota's bookkeeping: decided in the organisation's stream, read by nothing else
        return;
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  },
};
