import { type Compilable, type Kysely, sql } from 'kysely';
import type { RecordedEvent } from '../src/eventstore/port.ts';
import type { ReadModelDatabase } from '../src/db/schema.ts';
import { type TicketEvent, ticketIdOfStream } from '../src/support/events.ts';
import type { Projection } from './projection.ts';
import { eventTime } from './projection.ts';

type RecordedTicketEvent = Omit<RecordedEvent, 'type' | 'data'> & TicketEvent;

/** tickets and ticket_messages, from the `ticket-<id>` streams. */
export const ticketsProjection: Projection = {
  name: 'tickets',
  project(known, db) {
    const ticketId = ticketIdOfStream(known.stream);
    if (!ticketId) return [];
    return projectTicketEvent(known as unknown as RecordedTicketEvent, ticketId, db);
  },
};

function projectTicketEvent(event: RecordedTicketEvent, ticketId: string, db: Kysely<ReadModelDatabase>): Compilable[] {
  const at = eventTime(event);
  const ticket = db.updateTable('tickets').where('ticket_id', '=', ticketId);
  switch (event.type) {
    case 'TicketOpened':
      return [
        db
          .insertInto('tickets')
          .values({
            ticket_id: ticketId,
            subject: event.data.subject,
            support_group: event.data.group,
            client_id: event.data.clientId,
            status: 'open',
            opened_by: event.data.openedBy,
            assignee: null,
            last_seq: 0,
            rating: null,
            opened_at: at,
            updated_at: at,
            first_response_at: null,
            language: event.data.language ?? 'en',
            offline: event.data.offline ?? false,
          })
          .onConflict((oc) => oc.column('ticket_id').doNothing()),
      ];
    case 'TicketMessagePosted': {
      const statements: Compilable[] = [
        db
          .insertInto('ticket_messages')
          .values({
            ticket_id: ticketId,
            seq: event.data.seq,
            author: event.data.author,
            author_role: event.data.authorRole,
            text: event.data.text,
            client_message_id: event.data.clientMessageId,
            at,
          })
          .onConflict((oc) => oc.columns(['ticket_id', 'seq']).doNothing()),
        ticket.set({ last_seq: event.data.seq, updated_at: at }),
      ];
      if (event.data.authorRole === 'agent') {
        statements.push(ticket.set({ first_response_at: at }).where('first_response_at', 'is', null));
      }
      return statements;
    }
    case 'TicketNoteAdded':
      // Notes take a seq but leave last activity and first response alone: they are not answers.
      return [
        db
          .insertInto('ticket_messages')
          .values({
            ticket_id: ticketId,
            seq: event.data.seq,
            author: event.data.author,
            author_role: 'agent',
            text: event.data.text,
            client_message_id: event.data.clientMessageId,
            at,
            private: true,
          })
          .onConflict((oc) => oc.columns(['ticket_id', 'seq']).doNothing()),
        ticket.set({ last_seq: event.data.seq }),
      ];
    case 'TicketTagsChanged':
      // Statements travel to the projector thread as JSON: the array is rebuilt in SQL.
      return [ticket.set({ tags: sql<string[]>`ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(event.data.tags)}::jsonb))` })];
    case 'TicketPriorityChanged':
      return [ticket.set({ priority: event.data.priority })];
    case 'TicketAssigned':
      return [ticket.set({ assignee: event.data.assignee, updated_at: at })];
    case 'TicketStatusChanged':
      return [ticket.set({ status: event.data.status, updated_at: at })];
    case 'TicketRated':
      return [ticket.set({ rating: event.data.rating, rating_comment: event.data.comment ?? null, rated_at: at, updated_at: at })];
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}
