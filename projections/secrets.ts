import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

/** client_secrets (hash and hint only) and secret_links. */
export const secretsProjection: Projection = {
  name: 'secrets',
  project(event, changes) {
    const clientId = streamEntityId(event.stream, 'client');
    if (!clientId) return;
    const at = eventTime(event);
    switch (event.type) {
      case 'ClientSecretIssued':
        return changes.insert('client_secrets', {
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
        });
      case 'ClientSecretRotated':
        changes.update(
          'client_secrets',
          { secret_id: event.data.secretId },
          { status: 'rotated', grace_until: event.data.graceUntil ?? at, replaced_by: event.data.newSecretId },
        );
        changes.insert('client_secrets', {
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
        });
        for (const domainId of event.data.domainIds) {
          changes.insert('secret_links', { secret_id: event.data.newSecretId, domain_id: domainId, client_id: clientId, linked_at: at });
        }
        return;
      case 'ClientSecretRevoked':
        return changes.update('client_secrets', { secret_id: event.data.secretId }, { status: 'revoked', revoked_at: at });
      case 'SecretLinkedToDomain':
        return changes.insert('secret_links', { secret_id: event.data.secretId, domain_id: event.data.domainId, client_id: clientId, linked_at: at });
      case 'SecretUnlinkedFromDomain':
        return changes.delete('secret_links', { secret_id: event.data.secretId, domain_id: event.data.domainId });
      default:
        return;
    }
  },
};
