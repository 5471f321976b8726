import type { Logger } from 'pino';
import type { Namespace, Socket } from 'socket.io';
import type { TicketChange } from './service.ts';

/** The Socket.IO side of live support: names, per-socket state, rooms and fan-out. */

export const SUPPORT_NAMESPACE = '/support';

/** What a socket carries that other nodes may see (fetchSockets sends it): nothing secret. */
export interface SupportSocketData {
  sub: number;
  agent: boolean;
}

/** Between nodes: the presence count one node computed, so the others need not ask again. */
export interface InterServerEvents {
  'support:presence': (agentsOnline: number) => void;
  /** asks every other node for the subs of the agents connected to it */
  'support:agents': (ack: (subs: number[]) => void) => void;
  /** a ticket stream's events one node appended (revisions as strings): the others' command caches follow */
  'support:stream': (stream: string, events: { revision: string; type: string; data: unknown; id?: string }[]) => void;
}

type Events = Record<string, (...args: unknown[]) => void>;
export type SupportSocket = Socket<Record<string, never>, Events, InterServerEvents, SupportSocketData>;
export type SupportNamespace = Namespace<Record<string, never>, Events, InterServerEvents, SupportSocketData>;

/** Per-socket state that stays on this node (never in `socket.data`, which travels). */
export interface LocalState {
  readonly sessionHash: string;
  /** the session's organisation (null: a member of none), for a ticket naming a client */
  readonly organisationId: string | null;
  /** ticket rooms joined → the ticket's opener, oldest first (bounded) */
  readonly joined: Map<string, number>;
  readonly typingAt: Map<string, number>;
  inFlight: number;
  tokens: number;
  refilledAt: number;
  /** the session's end (ms, app clock): the socket is disconnected with login_required then */
  expiresAt?: number;
}

export interface SupportLimits {
  /** messages (and opened tickets) per user per window, on every node together */
  readonly userMessages: { points: number; seconds: number };
  readonly agentMessages: { points: number; seconds: number };
  /** any event, per socket: a token bucket */
  readonly eventsPerSecond: number;
  readonly eventBurst: number;
  /** handlers running at once per socket */
  readonly inFlight: number;
  /** ticket rooms one socket may be in */
  readonly joinedTickets: number;
  /** a socket whose unsent data passes these is cut off (it catches up with afterSeq) */
  readonly maxBufferedBytes: number;
  readonly maxQueuedPackets: number;
}

export const DEFAULT_LIMITS: SupportLimits = {
  userMessages: { points: 10, seconds: 10 },
  agentMessages: { points: 300, seconds: 10 },
  eventsPerSecond: 20,
  eventBurst: 40,
  inFlight: 16,
  joinedTickets: 100,
  maxBufferedBytes: 1024 * 1024,
  maxQueuedPackets: 1_000,
};

export const rooms = {
  session: (hash: string) => `session:${hash}`,
  user: (sub: number) => `user:${sub}`,
  ticket: (ticketId: string) => `ticket:${ticketId}`,
  /** the agents who joined a ticket: where its private notes go (a customer is never in it) */
  ticketAgents: (ticketId: string) => `ticket-agents:${ticketId}`,
  /** every agent: the desk hears of new tickets and of queue changes here, never of every message */
  agents: 'agents',
};

/** A handshake refusal: the client's `connect_error` carries `message` (the code) and `data`. */
export function refusal(code: string, data?: Record<string, unknown>): Error {
  const error = new Error(code) as Error & { data?: unknown };
  if (data) error.data = data;
  return error;
}

/** Bytes this node holds for a socket that has not reached it yet: queued packets and the WebSocket's buffer. */
export function backlogBytes(socket: SupportSocket): { bytes: number; packets: number } {
  const conn = socket.conn as unknown as {
    writeBuffer?: { data?: unknown }[];
    transport?: { socket?: { bufferedAmount?: number } };
  };
  let bytes = conn.transport?.socket?.bufferedAmount ?? 0;
  const queue = conn.writeBuffer ?? [];
  for (const packet of queue) {
    const data = packet.data;
    if (typeof data === 'string') bytes += data.length;
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) bytes += data.byteLength;
  }
  return { bytes, packets: queue.length };
}

export function overLimit(socket: SupportSocket, limits: SupportLimits): boolean {
  const { bytes, packets } = backlogBytes(socket);
  return bytes > limits.maxBufferedBytes || packets > limits.maxQueuedPackets;
}

/**
 * A socket that does not read is disconnected rather than buffered for; it catches up with
 * afterSeq. What was queued for it is dropped at once (a plain disconnect would wait for it to
 * drain, which a reader that never reads never does), and its TCP connection is destroyed.
 */
export function cutOff(socket: SupportSocket, logger: Logger): void {
  logger.warn({ sub: socket.data.sub, ...backlogBytes(socket) }, 'support socket does not read; disconnecting it');
  const conn = socket.conn as unknown as { close(discard?: boolean): void; transport?: { socket?: { terminate?: () => void } } };
  const ws = conn.transport?.socket;
  socket.disconnect(true);
  conn.close(true);
  ws?.terminate?.();
}

/**
 * Joins a ticket's room (an agent also its agents' room, for notes); past the cap the oldest
 * rooms are left (they are joined again on demand).
 */
export function joinTicketRoom(socket: SupportSocket, state: LocalState, ticketId: string, openedBy: number, cap: number, agent: boolean): void {
  if (state.joined.has(ticketId)) return;
  if (state.joined.size >= cap) {
    const oldest = state.joined.keys().next().value!;
    leaveTicketRoom(socket, state, oldest);
  }
  state.joined.set(ticketId, openedBy);
  void socket.join(agent && openedBy !== socket.data.sub ? [rooms.ticket(ticketId), rooms.ticketAgents(ticketId)] : rooms.ticket(ticketId));
}

export function leaveTicketRoom(socket: SupportSocket, state: LocalState, ticketId: string): void {
  state.joined.delete(ticketId);
  state.typingAt.delete(ticketId);
  void socket.leave(rooms.ticket(ticketId));
  void socket.leave(rooms.ticketAgents(ticketId));
}

/**
 * Status and assignment changes for the desk of every agent, gathered for `intervalMs` and sent
 * as one `desk:updated {tickets: [{ticketId, status, assignee, updatedAt}]}` (the latest of each ticket changed): a ticket's
 * room, its opener and its assignee still hear `ticket:updated` at once, but a busy desk no
 * longer costs agents × changes packets (200 agents taking 100 tickets a second were 20,000
 * packets a second, in front of every message).
 */
export function createDeskDigest(nsp: SupportNamespace, intervalMs = 500) {
  // What a desk row's status and owner need, not the whole summary: the digest goes to every
  // agent, and at 90 takes a second its full summaries were most of what the nodes sent.
  let pending = new Map<string, DeskChange>();
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const tickets = [...pending.values()];
    pending = new Map();
    if (tickets.length > 0) nsp.to(rooms.agents).emit('desk:updated', { tickets });
  };
  return {
    add(ticket: TicketChange['ticket']): void {
      pending.set(ticket.ticketId, { ticketId: ticket.ticketId, status: ticket.status, assignee: ticket.assignee, updatedAt: ticket.updatedAt });
      timer ??= setTimeout(flush, intervalMs);
    },
    stop(): void {
      clearTimeout(timer);
      timer = undefined;
      pending.clear();
    },
  };
}
export type DeskDigest = ReturnType<typeof createDeskDigest>;
/** One ticket in `desk:updated {tickets}`. */
export interface DeskChange {
  readonly ticketId: string;
  readonly status: TicketChange['ticket']['status'];
  readonly assignee: number | null;
  readonly updatedAt: string;
}

/**
 * Fans out what a command changed, on every node. A message goes to the ticket's room, the
 * opener's sockets and the assignee's; a private note only to the agents in the ticket and the
 * assignee, never to the opener. Every agent hears a new ticket's first message at once, and of
 * new tickets, status and assignment changes through the digest — never of every message, which
 * would cost agents × messages packets.
 */
export function publishChange(nsp: SupportNamespace, desk: DeskDigest, change: TicketChange, exceptSocketId?: string): void {
  const { ticket } = change;
  const id = ticket.ticketId;
  const assignee = ticket.assignee !== null ? [rooms.user(ticket.assignee)] : [];
  const opened = change.messages.some((m) => m.seq === 1 && !m.private);
  const publicTargets = [rooms.ticket(id), rooms.user(ticket.openedBy), ...assignee, ...(opened ? [rooms.agents] : [])];
  for (const message of change.messages) {
    let operator = message.private
      ? nsp.to([rooms.ticketAgents(id), ...assignee]).except(rooms.user(ticket.openedBy))
      : nsp.to(publicTargets);
    if (exceptSocketId) operator = operator.except(exceptSocketId);
    operator.emit('ticket:message', message);
  }
  // (`exceptSocketId` spares the author their own message, which their ack answers; a change of
  // status or owner their command caused — an answer that took the ticket — reaches them too.)
  if (opened || change.ticketChanged) {
    nsp.to([rooms.ticket(id), rooms.user(ticket.openedBy), ...assignee]).emit('ticket:updated', ticket);
    desk.add(ticket);
  }
}
