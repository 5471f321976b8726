import type { Logger } from 'pino';
import { type SupportActor } from './ability.ts';
import type { AnswerMailer } from './answer-mail.ts';
import { type Binder, createBinder } from './binder.ts';
import {
  type DeskDigest,
  type LocalState,
  type SupportLimits,
  type SupportNamespace,
  type SupportSocket,
  joinTicketRoom,
  leaveTicketRoom,
  publishChange,
  rooms,
} from './channel.ts';
import type { TicketContextReader } from './context.ts';
import type { DeskService } from './desk-service.ts';
import type { Presence } from './presence.ts';
import {
  type AckResponse,
  SupportError,
  checkMessageText,
  checkTicketId,
  contextSchema,
  explainSchema,
  failure,
  joinSchema,
  listSchema,
  messageSchema,
  openSchema,
  rateSchema,
  readSchema,
  ticketOnlySchema,
} from './protocol.ts';
import type { TicketQueries } from './queries.ts';
import type { TicketChange, TicketService } from './service.ts';
import { registerDeskHandlers } from './desk-handlers.ts';

export interface HandlerDeps {
  readonly nsp: SupportNamespace;
  readonly service: TicketService;
  readonly queries: TicketQueries;
  readonly desk: DeskService;
  readonly context: TicketContextReader;
  readonly mail: AnswerMailer;
  readonly presence: Presence;
  readonly deskDigest: DeskDigest;
  readonly limits: SupportLimits;
  readonly logger: Logger;
  readonly now: () => Date;
  /** the base of links in mail (PUBLIC_URL, or this socket's own allowed host) */
  baseUrlOf(socket: SupportSocket): string | undefined;
  /** the socket's user, the agent role re-checked (a revoked agent loses it) */
  actorOf(socket: SupportSocket): Promise<SupportActor>;
  /** an event answered (metrics): its name, receipt to ack, whether it succeeded */
  readonly observe?: (event: string, seconds: number, ok: boolean) => void;
  /** one message against the user's rate limit, or `rate_limited`; already handled, so it may be awaited later (a command awaits it before its append) */
  consumeMessagePoint(actor: SupportActor): Promise<void>;
}

export const KNOWN_EVENTS = new Set([
  'ticket:open',
  'ticket:message',
  'ticket:join',
  'ticket:leave',
  'ticket:list',
  'ticket:typing',
  'ticket:read',
  'ticket:assign',
  'ticket:status',
  'ticket:rate',
  'ticket:note',
  'ticket:context',
  'ticket:explain',
  'ticket:tags',
  'ticket:priority',
  'ticket:canned',
  'support:availability',
  'desk:list',
  'desk:auto-assign',
  'desk:canned:list',
  'desk:canned:save',
  'desk:canned:remove',
  'desk:capacity',
  'desk:hours',
  'desk:report',
]);

/** What every handler of one socket shares. */
export interface SocketScope {
  readonly socket: SupportSocket;
  readonly state: LocalState;
  readonly deps: HandlerDeps;
  readonly bind: Binder;
  join(ticketId: string, openedBy: number, agent: boolean): void;
  /** fans a change out; an agent's public answer may mail an absent customer */
  publish(change: TicketChange, exceptSelf: boolean): void;
}

/** The client → server events of DESIGN §9 on one socket; every one answers through its ack. */
export function registerTicketHandlers(socket: SupportSocket, state: LocalState, deps: HandlerDeps): void {
  const { nsp, service, presence } = deps;
  const { sub } = socket.data;
  const bind = createBinder(socket, state, deps);
  const { on } = bind;
  const scope: SocketScope = {
    socket,
    state,
    deps,
    bind,
    join: (ticketId, openedBy, agent) => joinTicketRoom(socket, state, ticketId, openedBy, deps.limits.joinedTickets, agent),
    publish(change, exceptSelf) {
      publishChange(nsp, deps.deskDigest, change, exceptSelf ? socket.id : undefined);
      for (const message of change.messages) deps.mail.answered(change.ticket, message, deps.baseUrlOf(socket));
    },
  };

  /** The ticket's opener, if this socket may see it: from its rooms, else from the read model. */
  async function ensureJoined(ticketId: string): Promise<number> {
    checkTicketId(ticketId);
    const known = state.joined.get(ticketId);
    if (known !== undefined) return known;
    const actor = await deps.actorOf(socket);
    const ticket = await service.findTicket(actor, ticketId);
    scope.join(ticketId, ticket.openedBy, actor.agent);
    return ticket.openedBy;
  }

  socket.onAny((event: string, ...args: unknown[]) => {
    if (KNOWN_EVENTS.has(event)) return;
    const ack = args[args.length - 1];
    if (typeof ack !== 'function') return;
    try {
      (ack as (r: AckResponse) => void)(failure('unknown_event', `there is no event "${String(event).slice(0, 50)}"`));
    } catch {
      // the client's problem
    }
  });

  /** Outside business hours, or with no agent online: the question is left, and waits. */
  async function availability() {
    const [agentsOnline, groups] = await Promise.all([presence.agentsOnline(), deps.desk.groups()]);
    return { agentsOnline, groups: groups.map((g) => ({ ...g, open: agentsOnline > 0 && g.withinHours })) };
  }

  on('support:availability', ticketOnlySchema.partial().nullish(), async () => await availability());

  on('ticket:open', openSchema, async (input) => {
    checkMessageText(input.message);
    const actor = await deps.actorOf(socket);
    await deps.consumeMessagePoint(actor);
    const available = await availability();
    const offline = !(available.groups.find((g) => g.group === input.group)?.open ?? true);
    const change = await service.openTicket(
      actor,
      {
        subject: input.subject,
        group: input.group,
        clientId: input.clientId || null,
        text: input.message,
        clientMessageId: input.clientMessageId,
        organisationId: state.organisationId,
        language: input.language ?? 'en',
        offline,
      },
      bind.metadata(),
    );
    scope.join(change.ticket.ticketId, change.ticket.openedBy, false);
    if (!change.duplicate) scope.publish(change, true);
    return { ticketId: change.ticket.ticketId, seq: 1, ticket: change.ticket, duplicate: change.duplicate, agentsOnline: available.agentsOnline, offline };
  });

  on('ticket:message', messageSchema, async (input) => {
    checkTicketId(input.ticketId);
    checkMessageText(input.text);
    const actor = await deps.actorOf(socket);
    // Delivered as soon as it is stored; acknowledged once projected (the author may read it back).
    // The rate limit is decided before the append: a refusal stores nothing.
    const change = await service.postMessage(actor, input.ticketId, input.text, input.clientMessageId, bind.metadata(), (stored) => scope.publish(stored, true), deps.consumeMessagePoint(actor));
    if (change.taken && !change.taken.duplicate) scope.publish(change.taken, false);
    scope.join(input.ticketId, change.ticket.openedBy, actor.agent);
    const message = change.messages.find((m) => m.seq === change.seq);
    return { ticketId: input.ticketId, seq: change.seq, ...(message ? { at: message.at } : {}), duplicate: change.duplicate };
  });

  on('ticket:join', joinSchema, async (input) => {
    checkTicketId(input.ticketId);
    const actor = await deps.actorOf(socket);
    const ticket = await service.findTicket(actor, input.ticketId);
    // Join the room before reading: whatever is stored after the read arrives live.
    scope.join(ticket.ticketId, ticket.openedBy, actor.agent);
    const withNotes = actor.agent && ticket.openedBy !== sub;
    const { messages, more } = await service.messagesAfter(ticket.ticketId, input.afterSeq ?? 0, withNotes);
    if (ticket.openedBy === sub) deps.mail.seen(ticket.ticketId);
    const [withPeople] = actor.agent ? await deps.queries.withPeople([ticket]) : [ticket];
    return { ticket: withPeople, messages, more };
  });

  on('ticket:leave', ticketOnlySchema, async (input) => {
    leaveTicketRoom(socket, state, input.ticketId);
    return {};
  });

  on('ticket:list', listSchema, async (input) => {
    const actor = await deps.actorOf(socket);
    return { tickets: await deps.queries.list(actor, input?.scope ?? (actor.agent ? 'all' : 'mine')) };
  });

  on('ticket:typing', ticketOnlySchema, async (input) => {
    const openedBy = await ensureJoined(input.ticketId);
    const at = deps.now().getTime();
    if (at - (state.typingAt.get(input.ticketId) ?? 0) >= 1_000) {
      state.typingAt.set(input.ticketId, at);
      // volatile: a typing mark is worth nothing late, so it is never queued for a slow socket
      nsp.to(rooms.ticket(input.ticketId))
        .except(socket.id)
        .volatile.emit('ticket:typing', { ticketId: input.ticketId, author: sub, authorRole: sub === openedBy ? 'user' : 'agent' });
    }
    return {};
  });

  on('ticket:read', readSchema, async (input) => {
    const openedBy = await ensureJoined(input.ticketId);
    nsp.to(rooms.ticket(input.ticketId))
      .except(socket.id)
      .emit('ticket:read', { ticketId: input.ticketId, seq: input.seq, reader: sub, readerRole: sub === openedBy ? 'user' : 'agent' });
    return {};
  });

  on('ticket:rate', rateSchema, async (input) => {
    checkTicketId(input.ticketId);
    const comment = input.comment?.trim() ? input.comment.trim() : null;
    const change = await service.rate(await deps.actorOf(socket), input.ticketId, input.rating, comment, bind.metadata());
    if (!change.duplicate) scope.publish(change, false);
    return { ticket: change.ticket };
  });

  on('ticket:context', contextSchema, async (input) => {
    checkTicketId(input.ticketId);
    return { ...(await deps.context.context(await deps.actorOf(socket), state.organisationId, input.ticketId)) };
  });

  on('ticket:explain', explainSchema, async (input) => {
    checkTicketId(input.ticketId);
    const explanation = await deps.context.explain(await deps.actorOf(socket), state.organisationId, input.ticketId, input.requestId, input.language ?? 'en');
    return { explanation };
  });

  registerDeskHandlers(scope);
}

export { SupportError };
