import { sql } from 'kysely';
import type { Projection } from './projection.ts';
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
 /**
 * audit_log: every event but support tickets', with its metadata, secret hashes removed — one
 * set-based insert per batch. Support conversations are user content with their own read
 * models (projections/tickets.ts). A client's later events carry no organisation: the group
 * keeps its own client → organisation map (audit_client_organisations), so it needs no other
 * group's tables and can run on its own lane.
 */
export const auditLogProjection: Projection = {
  name: 'audit-log',
  project(event, changes) {
    if (event.stream.startsWith('ticket-')) return;
    const clientId = streamEntityId(event.stream, 'client') ?? null;
    let organisationId =
      streamEntityId(event.stream, 'organisation') ??
      (event.type === 'ClientRegistered' || event.type === 'ClientRegistrationAbandoned' ? event.data.organisationId : null);
    if (clientId !== null && event.type === 'ClientRegistered') {
      changes.insert('audit_client_organisations', { client_id: clientId, organisation_id: event.data.organisationId });
    } else if (clientId !== null && organisationId === null) {
      // registered earlier in this batch: not in the table yet when the batch's insert reads it
      organisationId = (changes.inserted('audit_client_organisations', { client_id: clientId })?.organisation_id as string | undefined) ?? null;
    }
    const m = event.metadata;
    changes.insert('audit_log', {
      commit_position: event.position.commit,
      prepare_position: event.position.prepare,
      event_id: event.id,
      stream: event.stream,
      stream_revision: event.revision,
      type: event.type,
      client_id: clientId,
      // NULL: filled by the insert from audit_client_organisations
      organisation_id: organisationId,
      data: auditData(event.data),
      actor: m.actor,
      at: m.at,
      correlation_id: m.correlationId,
      causation_id: m.causationId,
      request_id: m.requestId,
      ip: m.ip,
      user_agent: m.userAgent,
    });
  },
  // An erased user's IP addresses and browsers leave every entry they made (the entries stay:
  // they are the organisations' record of what changed; the actor is a number nobody maps to a
  // person any more). After the batch's inserts, so entries of the same batch are scrubbed too.
  afterBatch(events) {
    const erased = events.flatMap((event) => (event.type === 'UserErased' ? [String(event.data.sub)] : []));
    if (erased.length === 0) return [];
    return [sql`UPDATE audit_log SET ip = NULL, user_agent = NULL WHERE actor = ANY(${erased}::text[]) AND (ip IS NOT NULL OR user_agent IS NOT NULL)`];
  },
  // a rebuild applies streams side by side: scrub once every stream is in
  afterRebuild() {
    return [
      sql`UPDATE audit_log SET ip = NULL, user_agent = NULL
           WHERE actor IN (SELECT user_sub::text FROM user_accounts WHERE status = 'erased') AND (ip IS NOT NULL OR user_agent IS NOT NULL)`,
    ];
  },
};
