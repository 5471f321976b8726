import type { Projection } from './projection.ts';
import { streamEntityId } from './projection.ts';

/** Fields that never leave the store, even as history (the hash identifies a live secret). */
const HIDDEN_FIELDS = new Set(['secretHash']);

export function auditData(data: unknown): Record<string, unknown> {
  if (typeof data !== 'object' || data === null) return {};
  return Object.fromEntries(Object.entries(data).filter(([key]) => !HIDDEN_FIELDS.has(key)));
}

/** audit_log: every event but support tickets', with its metadata, secret hashes removed. */
export const auditLogProjection: Projection = {
  name: 'audit-log',
  project(event, db) {
    // Support conversations are user content with their own read models (projections/tickets.ts).
    if (event.stream.startsWith('ticket-')) return [];
    const clientId = streamEntityId(event.stream, 'client') ?? null;
    const organisationId =
      streamEntityId(event.stream, 'organisation') ?? (event.type === 'ClientRegistered' ? event.data.organisationId : null);
    const m = event.metadata;
    return [
      db
        .insertInto('audit_log')
        .values((eb) => ({
          commit_position: event.position.commit.toString(),
          prepare_position: event.position.prepare.toString(),
          event_id: event.id,
          stream: event.stream,
          stream_revision: event.revision.toString(),
          type: event.type,
          client_id: clientId,
          organisation_id:
            organisationId ??
            (clientId ? eb.selectFrom('clients').select('organisation_id').where('client_id', '=', clientId) : null),
          data: JSON.stringify(auditData(event.data)),
          actor: m.actor,
          at: m.at,
          correlation_id: m.correlationId,
          causation_id: m.causationId,
          request_id: m.requestId,
          ip: m.ip,
          user_agent: m.userAgent,
        }))
        .onConflict((oc) => oc.columns(['commit_position', 'prepare_position']).doNothing()),
    ];
  },
};
