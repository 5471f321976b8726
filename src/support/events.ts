import type { Language, SupportGroupId } from './groups.ts';

export const TICKET_STATUSES = ['open', 'pending', 'resolved'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/** Who wrote a message, seen from the ticket: its opener is the `user`, anyone else an `agent`. */
export type AuthorRole = 'user' | 'agent';

export const TICKET_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type TicketPriority = (typeof TICKET_PRIORITIES)[number];

/** Events of a support ticket (stream `ticket-<ticketId>`, DESIGN §4). */
export type TicketEvent =
  | {
      type: 'TicketOpened';
      data: {
        ticketId: string;
        subject: string;
        group: SupportGroupId;
        clientId: string | null;
        openedBy: number;
        /** the opener's language (canned answers and mail use it); absent on older tickets: English */
        language?: Language;
        /** left while no agent was online or outside business hours */
        offline?: boolean;
      };
    }
  | {
      type: 'TicketMessagePosted';
      data: { seq: number; author: number; authorRole: AuthorRole; text: string; clientMessageId: string };
    }
  /** a private note: agents only, it shares the ticket's seq with messages (DESIGN §9 ticket:note) */
  | { type: 'TicketNoteAdded'; data: { seq: number; author: number; text: string; clientMessageId: string } }
  | { type: 'TicketAssigned'; data: { assignee: number | null; previousAssignee: number | null; reason?: 'taken' | 'auto' | 'handed_back' } }
  | { type: 'TicketStatusChanged'; data: { status: TicketStatus; previousStatus: TicketStatus } }
  | { type: 'TicketTagsChanged'; data: { tags: string[]; previousTags: string[] } }
  | { type: 'TicketPriorityChanged'; data: { priority: TicketPriority; previousPriority: TicketPriority } }
  | { type: 'TicketRated'; data: { rating: number; by: number; comment?: string } };

export type TicketEventType = TicketEvent['type'];

export const TICKET_EVENT_TYPES: readonly TicketEventType[] = [
  'TicketOpened',
  'TicketMessagePosted',
  'TicketNoteAdded',
  'TicketAssigned',
  'TicketStatusChanged',
  'TicketTagsChanged',
  'TicketPriorityChanged',
  'TicketRated',
];

export const TICKET_STREAM_PREFIX = 'ticket-';
export const ticketStream = (ticketId: string): string => `${TICKET_STREAM_PREFIX}${ticketId}`;
export const ticketIdOfStream = (stream: string): string | undefined =>
  stream.startsWith(TICKET_STREAM_PREFIX) ? stream.slice(TICKET_STREAM_PREFIX.length) : undefined;
