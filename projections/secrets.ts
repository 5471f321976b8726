import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

/** client_secrets (hash and hint only) and secret_links. */
export const secretsProjection: Projection = {
  name: 'secrets',
  project(event, db) {
    const clientId = streamEntityId(event.stream, 'client');
    if (!clientId) return [];
    const at = eventTime(event);
    switch (event.type) {
      case 'ClientSecretIssued':
        return [
          db
            .insertInto('client_secrets')
            .values({
              secret_id: event.data.secretId,
              client_id: clientId,
              label: event.data.label,
              hint: event.data.hint,
              secret_hash: event.data.secretHash,
              status: 'active',
              expires_at: event.data.expiresAt,
              grace_until: null,
              replaced_by: null,
              issued_at: at,
              revoked_at: null,
            })
            .onConflict((oc) => oc.column('secret_id').doNothing()),
        ];
      case 'ClientSecretRotated':
        return [
          db
            .updateTable('client_secrets')
            .set({ status: 'rotated', grace_until: event.data.graceUntil ?? at, replaced_by: event.data.newSecretId })
            .where('secret_id', '=', event.data.secretId),
          db
            .insertInto('client_secrets')
            .values({
              secret_id: event.data.newSecretId,
              client_id: clientId,
              label: event.data.label,
              hint: event.data.hint,
              secret_hash: event.data.secretHash,
              status: 'active',
              expires_at: null,
              grace_until: null,
              replaced_by: null,
              issued_at: at,
              revoked_at: null,
            })
            .onConflict((oc) => oc.column('secret_id').doNothing()),
          ...event.data.domainIds.map((domainId) =>
            db
              .insertInto('secret_links')
              .values({ secret_id: event.data.newSecretId, domain_id: domainId, client_id: clientId, linked_at: at })
              .onConflict((oc) => oc.columns(['secret_id', 'domain_id']).doNothing()),
          ),
        ];
      case 'ClientSecretRevoked':
        return [db.updateTable('client_secrets').set({ status: 'revoked', revoked_at: at }).where('secret_id', '=', event.data.secretId)];
      case 'SecretLinkedToDomain':
        return [
          db
            .insertInto('secret_links')
            .values({ secret_id: event.data.secretId, domain_id: event.data.domainId, client_id: clientId, linked_at: at })
            .onConflict((oc) => oc.columns(['secret_id', 'domain_id']).doNothing()),
        ];
      case 'SecretUnlinkedFromDomain':
        return [db.deleteFrom('secret_links').where('secret_id', '=', event.data.secretId).where('domain_id', '=', event.data.domainId)];
      default:
        return [];
    }
  },
};
