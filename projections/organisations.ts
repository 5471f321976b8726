import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

/** organisations (with their plan) and members. */
export const organisationsProjection: Projection = {
  name: 'organisations',
  project(event, db) {
    const organisationId = streamEntityId(event.stream, 'organisation');
    if (!organisationId) return [];
    const at = eventTime(event);
    switch (event.type) {
      case 'OrganisationCreated':
        return [
          db
            .insertInto('organisations')
            .values({ organisation_id: organisationId, name: event.data.name, plan: null, plan_status: 'none', created_at: at })
            .onConflict((oc) => oc.column('organisation_id').doNothing()),
        ];
      case 'MemberAdded':
        return [
          db
            .insertInto('members')
            .values({ organisation_id: organisationId, user_sub: event.data.sub, role: event.data.role, added_at: at })
            .onConflict((oc) => oc.columns(['organisation_id', 'user_sub']).doUpdateSet({ role: event.data.role })),
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
      default:
        return [];
    }
  },
};
