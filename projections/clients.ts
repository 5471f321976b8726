import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

/** clients: identity, name, status, and the time and stream revision of the row's last change. */
export const clientsProjection: Projection = {
  name: 'clients',
  project(event, db) {
    const clientId = streamEntityId(event.stream, 'client');
    if (!clientId) return [];
    const at = eventTime(event);
    const revision = event.revision.toString();
    if (event.type === 'ClientRegistered') {
      return [
        db
          .insertInto('clients')
          .values({
            client_id: clientId,
            organisation_id: event.data.organisationId,
            name: event.data.name,
            status: 'active',
            created_at: at,
            updated_at: at,
            revision,
          })
          .onConflict((oc) => oc.column('client_id').doNothing()),
      ];
    }
    const touch = db.updateTable('clients').where('client_id', '=', clientId);
    switch (event.type) {
      case 'ClientRenamed':
        return [touch.set({ name: event.data.name, updated_at: at, revision })];
      case 'ClientDisabled':
        return [touch.set({ status: 'disabled', updated_at: at, revision })];
      case 'ClientEnabled':
        return [touch.set({ status: 'active', updated_at: at, revision })];
      case 'ClientDeleted':
        return [touch.set({ status: 'deleted', updated_at: at, revision })];
      default:
        // other client events change their own tables; the client row's time is when it last changed
        return [];
    }
  },
};
