import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

/** organisations (with their plan) and members. */
export const organisationsProjection: Projection = {
  name: 'organisations',
  project(event, changes) {
    const organisationId = streamEntityId(event.stream, 'organisation');
    if (!organisationId) return;
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
      case 'MemberAdded':
        return changes.upsert('members', { organisation_id: organisationId, user_sub: event.data.sub, role: event.data.role, added_at: at }, ['role']);
      case 'MemberRoleChanged':
        return changes.update('members', { organisation_id: organisationId, user_sub: event.data.sub }, { role: event.data.role });
      case 'MemberRemoved':
        return changes.delete('members', { organisation_id: organisationId, user_sub: event.data.sub });
      case 'PlanActivated':
        return changes.update('organisations', organisation, { plan: event.data.plan, plan_status: 'active', plan_activated_at: at, plan_cancelled_at: null });
      case 'PlanCancelled':
        return changes.update('organisations', organisation, { plan_status: 'cancelled', plan_cancelled_at: at });
      case 'ClientSlotReserved':
      case 'ClientSlotReleased':
        // the quota's bookkeeping: decided in the organisation's stream, read by nothing else
        return;
      default:
        return;
    }
  },
};
