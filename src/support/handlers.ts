import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import { isDatabaseUnavailable } from '../db/errors.ts';
import type { EventMetadata } from '../eventstore/port.ts';
import { type SupportActor, supportAbility } from './ability.ts';
import {
  type LocalState,
  type SupportLimits,
  type SupportNamespace,
  type SupportSocket,
  cutOff,
  joinTicketRoom,
  overLimit,
  publishChange,
  rooms,
} from './channel.ts';
import { takeEventToken } from './limits.ts';
import { UNSTORABLE_MESSAGE, findUnstorable, isUnstorableTextError } from '../db/storable.ts';
import type { Presence } from './presence.ts';
import {
  type AckResponse,
  SupportError,
  assignSchema,
  checkMessageText,
  checkTicketId,
  describeIssues,
  failure,
  joinSchema,
  listSchema,
  messageSchema,
  openSchema,
  rateSchema,
  readSchema,
  statusSchema,
  ticketOnlySchema,
} from './protocol.ts';
import type { TicketService } from './service.ts';

export interface HandlerDeps {
  readonly nsp: SupportNamespace;
  readonly service: TicketService;
  readonly presence: Presence;
  readonly limits: SupportLimits;
  readonly logger: Logger;
  readonly now: () => Date;
  /** the socket's user, the agent role re-checked (a revoked agent loses it) */
  actorOf(socket: SupportSocket): Promise<SupportActor>;
  /** an event answered (metrics): its name, receipt to ack, whether it succeeded */
  readonly observe?: (event: string, seconds: number, ok: boolean) => void;
  /** one message against the user's rate limit, or `rate_limited` */
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
]);

type Handler<T> = (input: T) => Promise<Record<string, unknown>>;

/** The client → server events of DESIGN §9 on one socket; every one answers through its ack. */
export function registerTicketHandlers(socket: SupportSocket, state: LocalState, deps: HandlerDeps): void {
  const { nsp, service, presence, limits, logger } = deps;
  const { sub } = socket.data;

  /**
   * One event: bucket → in-flight cap → zod → handler → `{ok: true, …}`, or `{ok: false, error}`
   * for anything refused or thrown. A missing ack callback is fine; nothing is thrown out of here.
   */
  function on<T>(event: string, schema: ZodType<T>, handler: Handler<T>): void {
    socket.on(event, async (...args: unknown[]) => {
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (response: AckResponse) => void) : undefined;
      const received = deps.observe ? performance.now() : 0;
      const reply = (response: AckResponse) => {
        deps.observe?.(event, (performance.now() - received) / 1000, response.ok);
        if (!ack) return;
        try {
          ack(response);
        } catch (error) {
          logger.warn({ err: error, event }, 'acknowledgement failed');
        }
      };
      // Still asking while earlier answers have not reached it: stop here, do not queue more.
      if (overLimit(socket, limits)) return cutOff(socket, logger);
      if (!takeEventToken(state, limits, deps.now().getTime())) return reply(failure('rate_limited', 'too many events: slow down'));
      if (state.inFlight >= limits.inFlight) {
        return reply(failure('too_many_pending', `at most ${limits.inFlight} requests may wait for an answer at once`));
      }
      // One check for every event: nothing Postgres cannot store gets past here, whatever the field.
      const unstorable = findUnstorable(args[0]);
      if (unstorable !== undefined) return reply(failure('invalid_payload', `${unstorable || 'the payload'} ${UNSTORABLE_MESSAGE}`));
      const parsed = schema.safeParse(args[0]);
      if (!parsed.success) return reply(failure('invalid_payload', describeIssues(parsed.error)));
      state.inFlight += 1;
      try {
        reply({ ok: true, ...(await handler(parsed.data)) });
      } catch (error) {
        if (error instanceof SupportError) reply(failure(error.code, error.message));
        else if (isUnstorableTextError(error)) reply(failure('invalid_payload', `the payload ${UNSTORABLE_MESSAGE}`));
        else if (isDatabaseUnavailable(error)) {
          // Nothing was acknowledged: the client may send the same clientMessageId again.
          reply(failure('database_unavailable', 'the service is temporarily unavailable; try again shortly'));
        } else {
          logger.error({ err: error, event, sub }, 'support event failed');
          reply(failure('internal_error', 'something went wrong; try again'));
        }
      } finally {
        state.inFlight -= 1;
      }
    });
  }

  function metadata(): EventMetadata {
    const id = `ws-${randomUUID()}`;
    const userAgent = socket.handshake.headers['user-agent'];
    return {
      actor: String(sub),
      correlationId: id,
      causationId: id,
      requestId: id,
      ip: socket.handshake.address || null,
      userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null,
      at: deps.now().toISOString(),
    };
  }

  const join = (ticketId: string, openedBy: number) => joinTicketRoom(socket, state, ticketId, openedBy, limits.joinedTickets);

  /** The ticket's opener, if this socket may see it: from its rooms, else from the read model. */
  async function ensureJoined(ticketId: string): Promise<number> {
    checkTicketId(ticketId);
    const known = state.joined.get(ticketId);
    if (known !== undefined) return known;
    const ticket = await service.findTicket(await deps.actorOf(socket), ticketId);
    join(ticketId, ticket.openedBy);
    return ticket.openedBy;
  }

  async function requireAgentFor(action: 'assign' | 'changeStatus'): Promise<SupportActor> {
    const actor = await deps.actorOf(socket);
    if (supportAbility(actor).cannot(action, 'Ticket')) {
      throw new SupportError('forbidden', action === 'assign' ? 'only a support agent can assign tickets' : 'only a support agent can change the status');
    }
    return actor;
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

  on('ticket:open', openSchema, async (input) => {
    checkMessageText(input.message);
    const actor = await deps.actorOf(socket);
    await deps.consumeMessagePoint(actor);
    const change = await service.openTicket(
      actor,
      {
        subject: input.subject,
        group: input.group,
        clientId: input.clientId || null,
        text: input.message,
        clientMessageId: input.clientMessageId,
        organisationId: state.organisationId,
      },
      metadata(),
    );
    join(change.ticket.ticketId, change.ticket.openedBy);
    if (!change.duplicate) publishChange(nsp, change, socket.id);
    return { ticketId: change.ticket.ticketId, seq: 1, ticket: change.ticket, duplicate: change.duplicate, agentsOnline: await presence.agentsOnline() };
  });

  on('ticket:message', messageSchema, async (input) => {
    checkTicketId(input.ticketId);
    checkMessageText(input.text);
    const actor = await deps.actorOf(socket);
    await deps.consumeMessagePoint(actor);
    const change = await service.postMessage(actor, input.ticketId, input.text, input.clientMessageId, metadata());
    join(input.ticketId, change.ticket.openedBy);
    if (!change.duplicate) publishChange(nsp, change, socket.id);
    const message = change.messages.find((m) => m.seq === change.seq);
    return { ticketId: input.ticketId, seq: change.seq, ...(message ? { at: message.at } : {}), duplicate: change.duplicate };
  });

  on('ticket:join', joinSchema, async (input) => {
    checkTicketId(input.ticketId);
    const ticket = await service.findTicket(await deps.actorOf(socket), input.ticketId);
    // Join the room before reading: whatever is stored after the read arrives live.
    join(ticket.ticketId, ticket.openedBy);
    const { messages, more } = await service.messagesAfter(ticket.ticketId, input.afterSeq ?? 0);
    return { ticket, messages, more };
  });

  on('ticket:leave', ticketOnlySchema, async (input) => {
    state.joined.delete(input.ticketId);
    state.typingAt.delete(input.ticketId);
    await socket.leave(rooms.ticket(input.ticketId));
    return {};
  });

  on('ticket:list', listSchema, async (input) => {
    const actor = await deps.actorOf(socket);
    return { tickets: await service.listTickets(actor, input?.scope ?? (actor.agent ? 'all' : 'mine')) };
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

  on('ticket:assign', assignSchema, async (input) => {
    const actor = await requireAgentFor('assign');
    checkTicketId(input.ticketId);
    const change = await service.assign(actor, input.ticketId, input.assignee === undefined ? actor.sub : input.assignee, metadata());
    if (!change.duplicate) publishChange(nsp, change);
    return { ticket: change.ticket };
  });

  on('ticket:status', statusSchema, async (input) => {
    const actor = await requireAgentFor('changeStatus');
    checkTicketId(input.ticketId);
    const change = await service.changeStatus(actor, input.ticketId, input.status, metadata());
    if (!change.duplicate) publishChange(nsp, change);
    return { ticket: change.ticket };
  });

  on('ticket:rate', rateSchema, async (input) => {
    checkTicketId(input.ticketId);
    const change = await service.rate(await deps.actorOf(socket), input.ticketId, input.rating, metadata());
    if (!change.duplicate) publishChange(nsp, change);
    return { ticket: change.ticket };
  });
}
