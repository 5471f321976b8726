import type { BatchProjection } from './projection.ts';
import { streamEntityId } from './projection.ts';

/**
 * Fields that never leave the store, even as history: today only `secretHash` (the hash
 * identifies a live secret); the rule also catches any later `…Hash`, `…Token`, `…Secret` or
 * `…Password` field (an invitation's token hash, say) at any depth, so a new event cannot leak
 * one into the audit trail and its exports by being forgotten here.
 */
const isHiddenField = (key: string): boolean => /(hash|token|secret|password)$/i.test(key);

function withoutHiddenFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutHiddenFields);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !isHiddenField(key)).map(([key, v]) => [key, withoutHiddenFields(v)]));
}

export function auditData(data: unknown): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return {};
  return withoutHiddenFields(data) as Record<string, unknown>;
}

/**
 * audit_log: every event but support tickets', with its metadata, secret hashes removed — one
 * insert per batch. Support conversations are user content with their own read models
 * (projections/tickets.ts).
 */
export const auditLogProjection: BatchProjection = {
  name: 'audit-log',
  projectBatch(batch, db) {
    const events = batch.filter((event) => !event.stream.startsWith('ticket-'));
    if (events.length === 0) return [];
    const first = events[0]!.position;
    return [
      db
        .insertInto('audit_log')
        .values(
          events.map((event) => {
            const clientId = streamEntityId(event.stream, 'client') ?? null;
            const organisationId =
              streamEntityId(event.stream, 'organisation') ??
              (event.type === 'ClientRegistered' || event.type === 'ClientRegistrationAbandoned' ? event.data.organisationId : null);
            const m = event.metadata;
            return {
              commit_position: event.position.commit.toString(),
              prepare_position: event.position.prepare.toString(),
              event_id: event.id,
              stream: event.stream,
              stream_revision: event.revision.toString(),
              type: event.type,
              client_id: clientId,
              // filled from `clients` below when the event does not name it
              organisation_id: organisationId,
              data: JSON.stringify(auditData(event.data)),
              actor: m.actor,
              at: m.at,
              correlation_id: m.correlationId,
              causation_id: m.causationId,
              request_id: m.requestId,
              ip: m.ip,
              user_agent: m.userAgent,
            };
          }),
        )
        .onConflict((oc) => oc.columns(['commit_position', 'prepare_position']).doNothing()),
      // A client's later events carry no organisation: one join for the whole batch (a subquery
      // per row cost ten times as much).
      db
        .updateTable('audit_log')
        .from('clients')
        .set((eb) => ({ organisation_id: eb.ref('clients.organisation_id') }))
        .whereRef('audit_log.client_id', '=', 'clients.client_id')
        .where('audit_log.organisation_id', 'is', null)
        .where((eb) =>
          eb(eb.refTuple('audit_log.commit_position', 'audit_log.prepare_position'), '>=', eb.tuple(first.commit.toString(), first.prepare.toString())),
        ),
      // An erased user's IP addresses and browsers leave every entry they made (the entries stay:
      // they are the organisations' record of what changed; the actor is a number nobody maps
      // to a person any more). After the insert, so entries of the same batch are scrubbed too.
      ...events.flatMap((event) =>
        event.type === 'UserErased'
          ? [db.updateTable('audit_log').set({ ip: null, user_agent: null }).where('actor', '=', String(event.data.sub))]
          : [],
      ),
    ];
  },
};
