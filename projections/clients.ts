import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

/** clients: identity, name, status, and the time and stream revision of the row's last change. */
export const clientsProjection: Projection = {
  name: 'clients',
  project(event, changes) {
    const clientId = streamEntityId(event.stream, 'client');
    if (!clientId) return;
    const at = eventTime(event);
    const revision = event.revision.toString();
    const client = { client_id: clientId };
    switch (event.type) {
      case 'ClientRegistered':
        return changes.insert('clients', {
          client_id: clientId,
          organisation_id: event.data.organisationId,
          name: event.data.name,
          status: 'active',
          created_at: at,
          updated_at: at,
          revision,
        });
      case 'ClientRenamed':
        return changes.update('clients', client, { name: event.data.name, updated_at: at, revision });
      case 'ClientDisabled':
        return changes.update('clients', client, { status: 'disabled', updated_at: at, revision });
      case 'ClientEnabled':
        return changes.update('clients', client, { status: 'active', updated_at: at, revision });
      case 'ClientDeleted':
        return changes.update('clients', client, { status: 'deleted', updated_at: at, revision });
      default:
        // other client events change their own tables; the client row's time is when it last changed
        return;
    }
  },
};
