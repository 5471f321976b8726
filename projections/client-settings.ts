import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

/** redirect_uris, client_scopes and test_users. */
export const clientSettingsProjection: Projection = {
  name: 'client-settings',
  project(event, db) {
    const clientId = streamEntityId(event.stream, 'client');
    if (!clientId) return [];
    const at = eventTime(event);
    switch (event.type) {
      case 'RedirectUriAdded':
        return [
          db
            .insertInto('redirect_uris')
            .values({ client_id: clientId, uri: event.data.uri, added_at: at })
            .onConflict((oc) => oc.columns(['client_id', 'uri']).doNothing()),
        ];
      case 'RedirectUriRemoved':
        return [db.deleteFrom('redirect_uris').where('client_id', '=', clientId).where('uri', '=', event.data.uri)];
      case 'ClientScopesChanged': {
        const clear = db.deleteFrom('client_scopes').where('client_id', '=', clientId);
        if (event.data.scopes.length === 0) return [clear];
        return [clear, db.insertInto('client_scopes').values(event.data.scopes.map((scope) => ({ client_id: clientId, scope })))];
      }
      case 'TestUserAdded':
        return [
          db
            .insertInto('test_users')
            .values({ client_id: clientId, user_sub: event.data.sub, added_at: at })
            .onConflict((oc) => oc.columns(['client_id', 'user_sub']).doNothing()),
        ];
      case 'TestUserRemoved':
        return [db.deleteFrom('test_users').where('client_id', '=', clientId).where('user_sub', '=', event.data.sub)];
      default:
        return [];
    }
  },
};
