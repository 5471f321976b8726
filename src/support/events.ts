import type { SupportGroupId } from './groups.ts';

export const TICKET_STATUSES = ['open', 'pending', 'resolved'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/** Who wrote a message, seen from the ticket: its opener is the `user`, anyone else an `agent`. */
export type AuthorRole = 'user' | 'agent';

/** Events of a support ticket (stream `ticket-<ticketId>`, DESIGN §4). */
export type TicketEvent =
  | {
      type: 'TicketOpened';
      data: { ticketId: string; subject: string; group: SupportGroupId; clientId: string | null; openedBy: number };
    }
  | {
      type: 'TicketMessagePosted';
      data: { seq: number; author: number; authorRole: AuthorRole; text: string; clientMessageId: string };
    }
  | { type: 'TicketAssigned'; data: { assignee: number | null; previousAssignee: number | null } }
  | { type: 'TicketStatusChanged'; data: { status: TicketStatus; previousStatus: TicketStatus } }
  | { type: 'TicketRated'; data: { rating: number; by: number } };

export type TicketEventType = TicketEvent['type'];

export const TICKET_EVENT_TYPES: readonly TicketEventType[] = [
  'TicketOpened',
  'TicketMessagePosted',
  'TicketAssigned',
  'TicketStatusChanged',
  'TicketRated',
];

export const TICKET_STREAM_PREFIX = 'ticket-';
export const ticketStream = (ticketId: string): string => `${TICKET_STREAM_PREFIX}${ticketId}`;
export const ticketIdOfStream = (stream: string): string | undefined =>
  stream.startsWith(TICKET_STREAM_PREFIX) ? stream.slice(TICKET_STREAM_PREFIX.length) : undefined;
