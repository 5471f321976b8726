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
      });
      changes.update('tickets', ticket, { last_seq: event.data.seq, updated_at: at });
      if (event.data.authorRole === 'agent') changes.updateIfNull('tickets', ticket, 'first_response_at', at);
      return;
    case 'TicketAssigned':
      return changes.update('tickets', ticket, { assignee: event.data.assignee, updated_at: at });
    case 'TicketStatusChanged':
      return changes.update('tickets', ticket, { status: event.data.status, updated_at: at });
    case 'TicketRated':
      return changes.update('tickets', ticket, { rating: event.data.rating, updated_at: at });
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}
