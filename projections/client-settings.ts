import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

/** redirect_uris, client_scopes and test_users. */
export const clientSettingsProjection: Projection = {
  name: 'client-settings',
  project(event, changes) {
    const clientId = streamEntityId(event.stream, 'client');
    if (!clientId) return;
    const at = eventTime(event);
    switch (event.type) {
      case 'RedirectUriAdded':
        return changes.insert('redirect_uris', { client_id: clientId, uri: event.data.uri, added_at: at });
      case 'RedirectUriRemoved':
        return changes.delete('redirect_uris', { client_id: clientId, uri: event.data.uri });
      case 'ClientScopesChanged':
        changes.deleteWhere('client_scopes', 'client_id', clientId);
        for (const scope of event.data.scopes) changes.insert('client_scopes', { client_id: clientId, scope });
        return;
      case 'TestUserAdded':
        return changes.insert('test_users', { client_id: clientId, user_sub: event.data.sub, added_at: at });
      case 'TestUserRemoved':
        return changes.delete('test_users', { client_id: clientId, user_sub: event.data.sub });
      default:
        return;
    }
  },
};
