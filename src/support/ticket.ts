import { type SupportActor, supportAbility, ticketSubject } from './ability.ts';
import type { AuthorRole, TicketEvent, TicketPriority, TicketStatus } from './events.ts';
import type { Language, SupportGroupId } from './groups.ts';

/** Resends are recognised among this many most recent messages of a ticket. */
export const REMEMBERED_MESSAGE_IDS = 1_000;

/** The ticket aggregate's state: what decisions need, folded from the ticket's stream. Pure. */
export interface TicketState {
  readonly exists: boolean;
  readonly ticketId: string | null;
  readonly subject: string;
  readonly group: SupportGroupId | null;
  readonly clientId: string | null;
  readonly openedBy: number | null;
  readonly status: TicketStatus;
  readonly assignee: number | null;
  readonly lastSeq: number;
  readonly rating: number | null;
  readonly language: Language;
  /** left while nobody could answer (answers are mailed) */
  readonly offline: boolean;
  readonly tags: readonly string[];
  readonly priority: TicketPriority;
  /** an agent has written a (public) message */
  readonly answered: boolean;
  /** `<author>:<clientMessageId>` and seq of the most recent messages, newest first (idempotent resends) */
  readonly recentMessageIds: RecentMessageIds | null;
}

/**
 * A ticket's most recent message ids, newest first, as links that versions of the state share:
 * remembering one more is one small object. (A Map copied for every message was most of what a
 * cached ticket left for the old generation: up to 1,000 entries, on every node, per message.)
 * At twice the limit the newest are linked anew, once: amortised, still O(1) per message.
 */
export interface RecentMessageIds {
  readonly key: string;
  readonly seq: number;
  readonly older: RecentMessageIds | null;
  /** links from here to the end, forgotten ones included */
  readonly length: number;
}

function rememberId(list: RecentMessageIds | null, key: string, seq: number): RecentMessageIds {
  let kept: RecentMessageIds | null = list;
  if (list !== null && list.length >= 2 * REMEMBERED_MESSAGE_IDS) {
    const newest: RecentMessageIds[] = [];
    for (let l: RecentMessageIds | null = list; l !== null && newest.length < REMEMBERED_MESSAGE_IDS - 1; l = l.older) newest.push(l);
    kept = null;
    for (const link of newest.reverse()) kept = { key: link.key, seq: link.seq, older: kept, length: (kept === null ? 0 : kept.length) + 1 };
  }
  return { key, seq, older: kept, length: (kept?.length ?? 0) + 1 };
}

/** The seq remembered for `key` among the most recent REMEMBERED_MESSAGE_IDS messages. */
function recentSeq(list: RecentMessageIds | null, key: string): number | undefined {
  let l = list;
  for (let i = 0; l !== null && i < REMEMBERED_MESSAGE_IDS; i++, l = l.older) if (l.key === key) return l.seq;
  return undefined;
}

/** How many message ids a state remembers. */
export const rememberedMessageIds = (state: TicketState): number => Math.min(state.recentMessageIds?.length ?? 0, REMEMBERED_MESSAGE_IDS);

export const initialTicketState: TicketState = {
  exists: false,
  ticketId: null,
  subject: '',
  group: null,
  clientId: null,
  openedBy: null,
  status: 'open',
  assignee: null,
  lastSeq: 0,
  rating: null,
  language: 'en',
  offline: false,
  tags: [],
  priority: 'normal',
  answered: false,
  recentMessageIds: null,
};

export const messageKey = (author: number, clientMessageId: string) => `${author}:${clientMessageId}`;

export function evolveTicket(state: TicketState, event: TicketEvent): TicketState {
  switch (event.type) {
    case 'TicketOpened':
      return {
        ...state,
        exists: true,
        ticketId: event.data.ticketId,
        subject: event.data.subject,
        group: event.data.group,
        clientId: event.data.clientId,
        openedBy: event.data.openedBy,
        language: event.data.language ?? 'en',
        offline: event.data.offline ?? false,
        status: 'open',
      };
    case 'TicketMessagePosted':
      return {
        ...remember(state, event.data.author, event.data.clientMessageId, event.data.seq),
        answered: state.answered || event.data.authorRole === 'agent',
      };
    case 'TicketNoteAdded':
      return remember(state, event.data.author, event.data.clientMessageId, event.data.seq);
    case 'TicketAssigned':
      return { ...state, assignee: event.data.assignee };
    case 'TicketStatusChanged':
      return { ...state, status: event.data.status };
    case 'TicketTagsChanged':
      return { ...state, tags: event.data.tags };
    case 'TicketPriorityChanged':
      return { ...state, priority: event.data.priority };
    case 'TicketRated':
      return { ...state, rating: event.data.rating };
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

/** A message or note took `seq`; its id is remembered so a resend is recognised. */
function remember(state: TicketState, author: number, clientMessageId: string, seq: number): TicketState {
  return { ...state, lastSeq: seq, recentMessageIds: rememberId(state.recentMessageIds, messageKey(author, clientMessageId), seq) };
}

export const foldTicket = (events: readonly TicketEvent[]): TicketState => events.reduce(evolveTicket, initialTicketState);

export const ticketAggregate = { initial: initialTicketState, evolve: evolveTicket };

export type TicketErrorCode = 'ticket_not_found' | 'forbidden' | 'ticket_not_resolved' | 'ticket_exists' | 'ticket_taken';

export class TicketDomainError extends Error {
  constructor(
    readonly code: TicketErrorCode,
    message: string,
    /** ticket_taken: who has it */
    readonly assignee?: number,
  ) {
    super(message);
  }
}

export type TicketCommand =
  | {
      type: 'OpenTicket';
      actor: SupportActor;
      ticketId: string;
      subject: string;
      group: SupportGroupId;
      clientId: string | null;
      text: string;
      clientMessageId: string;
      language: Language;
      offline: boolean;
    }
  /**
   * `take`: the agent's first answer also takes the ticket if nobody has it (the service sets it
   * only under the agent's assignment lock, with the capacity counted there).
   */
  | { type: 'PostMessage'; actor: SupportActor; text: string; clientMessageId: string; take?: boolean }
  | { type: 'AddNote'; actor: SupportActor; text: string; clientMessageId: string }
  /**
   * `take`: the agent takes it (or auto-assign gives it) only while nobody has it — of two agents
   * taking one ticket at once, the second is told who won. `hand_back`: back to the queue only if
   * `from` still has it and no agent has answered. `transfer`: an explicit assignment.
   */
  | { type: 'AssignTicket'; actor: SupportActor; assignee: number | null; mode: 'take' | 'auto' | 'transfer' }
  | { type: 'HandBackTicket'; actor: SupportActor; from: number }
  | { type: 'ChangeStatus'; actor: SupportActor; status: TicketStatus }
  | { type: 'SetTags'; actor: SupportActor; tags: string[] }
  | { type: 'SetPriority'; actor: SupportActor; priority: TicketPriority }
  | { type: 'RateTicket'; actor: SupportActor; rating: number; comment: string | null };

const notFound = () => new TicketDomainError('ticket_not_found', 'there is no such ticket');

/** Another user's ticket reads as missing: existence does not leak. */
function requireAccess(state: TicketState, actor: SupportActor, action: 'read' | 'write' | 'rate'): number {
  if (!state.exists || state.openedBy === null) throw notFound();
  const ability = supportAbility(actor);
  if (ability.cannot('read', ticketSubject(state.openedBy))) throw notFound();
  if (ability.cannot(action, ticketSubject(state.openedBy))) throw new TicketDomainError('forbidden', `you may not ${action} this ticket`);
  return state.openedBy;
}

function requireAgent(state: TicketState, actor: SupportActor, action: 'assign' | 'changeStatus' | 'note'): void {
  // Checked before the lookup: a user learns nothing about which tickets exist.
  if (supportAbility(actor).cannot(action, 'Ticket')) throw new TicketDomainError('forbidden', 'only a support agent can do this');
  requireAccess(state, actor, 'read');
}

export function decideTicket(command: TicketCommand, state: TicketState): TicketEvent[] {
  switch (command.type) {
    case 'OpenTicket': {
      if (state.exists) {
        // The same open sent again (its id derives from the opener's clientMessageId): nothing new.
        if (state.openedBy === command.actor.sub) return [];
        throw new TicketDomainError('ticket_exists', 'a ticket with this id already exists');
      }
      return [
        {
          type: 'TicketOpened',
          data: {
            ticketId: command.ticketId,
            subject: command.subject,
            group: command.group,
            clientId: command.clientId,
            openedBy: command.actor.sub,
            language: command.language,
            ...(command.offline ? { offline: true } : {}),
          },
        },
        {
          type: 'TicketMessagePosted',
          data: { seq: 1, author: command.actor.sub, authorRole: 'user', text: command.text, clientMessageId: command.clientMessageId },
        },
      ];
    }
    case 'PostMessage': {
      const openedBy = requireAccess(state, command.actor, 'write');
      if (recentSeq(state.recentMessageIds, messageKey(command.actor.sub, command.clientMessageId)) !== undefined) return [];
      const authorRole: AuthorRole = command.actor.sub === openedBy ? 'user' : 'agent';
      const events: TicketEvent[] = [];
      events.push({
        type: 'TicketMessagePosted',
        data: { seq: state.lastSeq + 1, author: command.actor.sub, authorRole, text: command.text, clientMessageId: command.clientMessageId },
      });
      // The first agent answer takes a ticket nobody has, in the same append — when the service,
      // holding the agent's lock, found them within capacity (a limit across streams). Without
      // `take` the answer is posted alone and the ticket stays in the queue.
      if (command.take && authorRole === 'agent' && !state.answered && state.assignee === null && supportAbility(command.actor).can('assign', 'Ticket')) {
        events.push({ type: 'TicketAssigned', data: { assignee: command.actor.sub, previousAssignee: null, reason: 'taken' } });
      }
      // The user wrote again: the ticket needs an agent's attention once more.
      if (authorRole === 'user' && state.status !== 'open') {
        events.push({ type: 'TicketStatusChanged', data: { status: 'open', previousStatus: state.status } });
      }
      return events;
    }
    case 'AddNote': {
      requireAgent(state, command.actor, 'note');
      if (recentSeq(state.recentMessageIds, messageKey(command.actor.sub, command.clientMessageId)) !== undefined) return [];
      return [
        { type: 'TicketNoteAdded', data: { seq: state.lastSeq + 1, author: command.actor.sub, text: command.text, clientMessageId: command.clientMessageId } },
      ];
    }
    case 'AssignTicket': {
      requireAgent(state, command.actor, 'assign');
      if (state.assignee === command.assignee) return [];
      if (command.mode !== 'transfer' && state.assignee !== null) {
        throw new TicketDomainError('ticket_taken', 'another agent has already taken this ticket', state.assignee);
      }
      const reason = command.mode === 'transfer' ? {} : { reason: command.mode === 'take' ? ('taken' as const) : ('auto' as const) };
      return [{ type: 'TicketAssigned', data: { assignee: command.assignee, previousAssignee: state.assignee, ...reason } }];
    }
    case 'HandBackTicket':
      requireAgent(state, command.actor, 'assign');
      if (state.assignee !== command.from || state.answered || state.status !== 'open') return [];
      return [{ type: 'TicketAssigned', data: { assignee: null, previousAssignee: command.from, reason: 'handed_back' } }];
    case 'ChangeStatus':
      requireAgent(state, command.actor, 'changeStatus');
      if (state.status === command.status) return [];
      return [{ type: 'TicketStatusChanged', data: { status: command.status, previousStatus: state.status } }];
    case 'SetTags':
      requireAgent(state, command.actor, 'changeStatus');
      if (state.tags.length === command.tags.length && state.tags.every((t, i) => t === command.tags[i])) return [];
      return [{ type: 'TicketTagsChanged', data: { tags: command.tags, previousTags: [...state.tags] } }];
    case 'SetPriority':
      requireAgent(state, command.actor, 'changeStatus');
      if (state.priority === command.priority) return [];
      return [{ type: 'TicketPriorityChanged', data: { priority: command.priority, previousPriority: state.priority } }];
    case 'RateTicket': {
      requireAccess(state, command.actor, 'rate');
      if (state.status !== 'resolved') throw new TicketDomainError('ticket_not_resolved', 'a ticket can be rated once it is resolved');
      if (state.rating === command.rating && command.comment === null) return [];
      const comment = command.comment === null ? {} : { comment: command.comment };
      return [{ type: 'TicketRated', data: { rating: command.rating, by: command.actor.sub, ...comment } }];
    }
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

/** The seq a message got: after a post, or for a resend recognised by its clientMessageId. */
export const seqOfMessage = (state: TicketState, author: number, clientMessageId: string): number | undefined =>
  recentSeq(state.recentMessageIds, messageKey(author, clientMessageId));
