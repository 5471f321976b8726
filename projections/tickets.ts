import type { RecordedEvent } from '../src/eventstore/port.ts';
import { type TicketEvent, ticketIdOfStream } from '../src/support/events.ts';
import type { ChangeSet } from './changes.ts';
import type { Projection } from './projection.ts';
import { eventTime } from './projection.ts';

type RecordedTicketEvent = Omit<RecordedEvent, 'type' | 'data'> & TicketEvent;

/** tickets and ticket_messages, from the `ticket-<id>` streams. */
export const ticketsProjection: Projection = {
  name: 'tickets',
  project(known, changes) {
    const ticketId = ticketIdOfStream(known.stream);
    if (!ticketId) return;
    projectTicketEvent(known as unknown as RecordedTicketEvent, ticketId, changes);
  },
};

function projectTicketEvent(event: RecordedTicketEvent, ticketId: string, changes: ChangeSet): void {
  const at = eventTime(event);
  const ticket = { ticket_id: ticketId };
  switch (event.type) {
    case 'TicketOpened':
      return changes.insert('tickets', {
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
        tags: [],
        priority: 'normal',
        rating_comment: null,
        rated_at: null,
        language: event.data.language ?? 'en',
        offline: event.data.offline ?? false,
      });
    case 'TicketMessagePosted':
      changes.insert('ticket_messages', {
        ticket_id: ticketId,
        seq: event.data.seq,
        author: event.data.author,
        author_role: event.data.authorRole,
        text: event.data.text,
        client_message_id: event.data.clientMessageId,
        at,
        private: false,
      });
      changes.update('tickets', ticket, { last_seq: event.data.seq, updated_at: at });
      if (event.data.authorRole === 'agent') changes.updateIfNull('tickets', ticket, 'first_response_at', at);
      return;
    case 'TicketNoteAdded':
      // Notes take a seq but leave last activity and first response alone: they are not answers.
      changes.insert('ticket_messages', {
        ticket_id: ticketId,
        seq: event.data.seq,
        author: event.data.author,
        author_role: 'agent',
        text: event.data.text,
        client_message_id: event.data.clientMessageId,
        at,
        private: true,
      });
      return changes.update('tickets', ticket, { last_seq: event.data.seq });
    case 'TicketTagsChanged':
      return changes.update('tickets', ticket, { tags: event.data.tags });
    case 'TicketPriorityChanged':
      return changes.update('tickets', ticket, { priority: event.data.priority });
    case 'TicketAssigned':
      return changes.update('tickets', ticket, { assignee: event.data.assignee, updated_at: at });
    case 'TicketStatusChanged':
      return changes.update('tickets', ticket, { status: event.data.status, updated_at: at });
    case 'TicketRated':
      return changes.update('tickets', ticket, { rating: event.data.rating, rating_comment: event.data.comment ?? null, rated_at: at, updated_at: at });
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}
