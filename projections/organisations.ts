import type { KnownEvent, Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';
import { isOrganisationEventType, type OrganisationEvent } from '../src/accounts/events.ts';

const isOrganisationEvent = (event: KnownEvent): event is KnownEvent & OrganisationEvent => isOrganisationEventType(event.type);

/** organisations (with their plan), members and invitations. */
export const organisationsProjection: Projection = {
  name: 'organisations',
  project(event, db) {
    const organisationId = streamEntityId(event.stream, 'organisation');
    if (!organisationId || !isOrganisationEvent(event)) return [];
    const at = eventTime(event);
    switch (event.type) {
      case 'OrganisationCreated':
        return [
          db
            .insertInto('organisations')
            .values({ organisation_id: organisationId, name: event.data.name, plan: null, plan_status: 'none', created_at: at })
            .onConflict((oc) => oc.column('organisation_id').doNothing()),
        ];
      case 'MemberInvited': {
        const { invitationId, email, role, tokenHash, expiresAt, invitedBy } = event.data;
        return [
          db
            .insertInto('invitations')
            .values({
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
            })
            .onConflict((oc) => oc.column('invitation_id').doNothing()),
        ];
      }
      case 'InvitationRevoked':
        return [db.updateTable('invitations').set({ status: 'revoked', settled_at: at }).where('invitation_id', '=', event.data.invitationId)];
      case 'MemberAdded': {
        const { invitationId } = event.data;
        return [
          db
            .insertInto('members')
            .values({ organisation_id: organisationId, user_sub: event.data.sub, role: event.data.role, added_at: at })
            .onConflict((oc) => oc.columns(['organisation_id', 'user_sub']).doUpdateSet({ role: event.data.role })),
          ...(invitationId
            ? [
                db
                  .updateTable('invitations')
                  .set({ status: 'accepted', accepted_by: event.data.sub, settled_at: at })
                  .where('invitation_id', '=', invitationId),
              ]
            : []),
        ];
      }
      case 'OwnershipTransferred':
        return [
          db
            .updateTable('members')
            .set((eb) => ({ role: eb.case().when('user_sub', '=', event.data.to).then('owner').else('admin').end() }))
            .where('organisation_id', '=', organisationId)
            .where('user_sub', 'in', [event.data.from, event.data.to]),
        ];
      case 'MemberRoleChanged':
        return [
          db.updateTable('members').set({ role: event.data.role }).where('organisation_id', '=', organisationId).where('user_sub', '=', event.data.sub),
        ];
      case 'MemberRemoved':
        return [db.deleteFrom('members').where('organisation_id', '=', organisationId).where('user_sub', '=', event.data.sub)];
      case 'PlanActivated':
        return [
          db
            .updateTable('organisations')
            .set({ plan: event.data.plan, plan_status: 'active', plan_activated_at: at, plan_cancelled_at: null })
            .where('organisation_id', '=', organisationId),
        ];
      case 'PlanCancelled':
        return [
          db.updateTable('organisations').set({ plan_status: 'cancelled', plan_cancelled_at: at }).where('organisation_id', '=', organisationId),
        ];
      case 'ClientSlotReserved':
      case 'ClientSlotReleased':
        // the quota's bookkeeping: decided in the organisation's stream, read by nothing else
        return [];
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  },
};
