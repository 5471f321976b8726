import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import pg from 'pg';
import { Server, type Namespace, type Socket } from 'socket.io';
import { createAdapter } from '@socket.io/postgres-adapter';
import { parse as parseCookies } from 'cookie';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { LRUCache } from 'lru-cache';
import type { ZodType } from 'zod';
import type { AppContext } from '../context.ts';
import type { EventMetadata } from '../eventstore/port.ts';
import { SESSION_COOKIE, findAccount } from '../accounts/sessions.ts';
import { type SupportActor, supportAbility } from './ability.ts';
import { STRINGS } from './i18n.ts';
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
import { type TicketChange, TicketService } from './service.ts';
import { SUPPORT_AGENT } from './staff.ts';

export const SUPPORT_NAMESPACE = '/support';

/** What a socket carries that other nodes may see (fetchSockets sends it): nothing secret. */
interface SupportSocketData {
  sub: number;
  agent: boolean;
}

/** Per-socket state that stays on this node. */
interface LocalState {
  readonly sessionHash: string;
  readonly organisationId: string;
  /** ticket rooms joined → the ticket's opener, oldest first (bounded) */
  readonly joined: Map<string, number>;
  readonly typingAt: Map<string, number>;
  inFlight: number;
  tokens: number;
  refilledAt: number;
  expiry?: NodeJS.Timeout;
}

type SupportSocket = Socket<Record<string, never>, Record<string, (...args: unknown[]) => void>, Record<string, never>, SupportSocketData>;

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
  /** a socket whose unsent data passes this is cut off (it catches up with afterSeq) */
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

export interface SupportGateway {
  readonly io: Server;
  readonly namespace: Namespace;
  /** a session ended (logout): its sockets on every node disconnect */
  endSession(sessionHash: string): void;
  /** distinct agents connected to any node */
  agentsOnline(): Promise<number>;
  close(): Promise<void>;
}

const KNOWN_EVENTS = new Set([
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

const rooms = {
  session: (hash: string) => `session:${hash}`,
  user: (sub: number) => `user:${sub}`,
  ticket: (ticketId: string) => `ticket:${ticketId}`,
  agents: 'agents',
};

function refusal(code: string, data?: Record<string, unknown>): Error {
  const error = new Error(code) as Error & { data?: unknown };
  if (data) error.data = data;
  return error;
}

/** A cross-site page must not open a socket with the visitor's cookie (cross-site WebSocket hijacking). */
function originAllowed(origin: string, host: string | undefined, publicUrl: string | undefined): boolean {
  try {
    const url = new URL(origin);
    if (publicUrl && url.origin === new URL(publicUrl).origin) return true;
    return host !== undefined && url.host === host;
  } catch {
    return false;
  }
}

/**
 * The live support channel (DESIGN §9): Socket.IO on the app's HTTP server, namespace
 * `/support`, sessions from the cookie, nodes joined through @socket.io/postgres-adapter.
 */
export function createSupportGateway(ctx: AppContext, server: http.Server, options: { limits?: Partial<SupportLimits> } = {}): SupportGateway {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const { database, logger: rootLogger, now } = ctx;
  const logger = rootLogger.child({ component: 'support' });
  const service = new TicketService({
    commands: ctx.commands,
    watcher: ctx.watcher,
    db: database.db,
    rm: database.rm,
    logger,
    writeWaitMs: ctx.config.WRITE_WAIT_MS,
  });

  // The adapter keeps one connection LISTENing for ever: its own small pool, not the app's.
  const adapterPool = new pg.Pool({ connectionString: database.connectionString, max: 4, application_name: 'keyledger-socket.io' });
  adapterPool.on('error', (error) => logger.warn({ err: error }, 'socket.io adapter pool error'));
  const io = new Server(server, {
    serveClient: true,
    // A message is at most 4,000 characters: 64 kB leaves room for JSON escapes, and no more.
    maxHttpBufferSize: 64 * 1024,
    connectTimeout: 10_000,
    pingInterval: 25_000,
    pingTimeout: 20_000,
    cookie: false,
    adapter: createAdapter(adapterPool, {
      errorHandler: (error) => logger.warn({ err: error }, 'socket.io adapter error'),
    }),
  });
  io.of('/').use((_socket, next) => next(refusal('unknown_namespace')));
  const nsp = io.of(SUPPORT_NAMESPACE) as unknown as Namespace<
    Record<string, never>,
    Record<string, (...args: unknown[]) => void>,
    Record<string, never>,
    SupportSocketData
  >;
  const local = new WeakMap<SupportSocket, LocalState>();

  const limiter = (name: string, rule: { points: number; seconds: number }) =>
    new RateLimiterPostgres({
      storeClient: database.pool,
      tableName: 'support_limits',
      tableCreated: true,
      keyPrefix: name,
      points: rule.points,
      duration: rule.seconds,
      // The database unreachable: each node still limits on its own.
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.seconds }),
    });
  const userLimiter = limiter('support-user', limits.userMessages);
  const agentLimiter = limiter('support-agent', limits.agentMessages);

  // Staff roles are re-read (at most every 5 s) before an agent acts: a revoked agent loses the power.
  const staffCache = new LRUCache<number, boolean>({ max: 10_000, ttl: 5_000 });
  async function isAgent(sub: number): Promise<boolean> {
    const cached = staffCache.get(sub);
    if (cached !== undefined) return cached;
    const row = await database.db.selectFrom('users').select('staff_role').where('sub', '=', sub).executeTakeFirst();
    const agent = row?.staff_role === SUPPORT_AGENT;
    staffCache.set(sub, agent);
    return agent;
  }
  async function actorOf(socket: SupportSocket): Promise<SupportActor> {
    const { sub, agent } = socket.data;
    return { sub, agent: agent && (await isAgent(sub)) };
  }

  function metadataOf(socket: SupportSocket): EventMetadata {
    const id = `ws-${randomUUID()}`;
    const userAgent = socket.handshake.headers['user-agent'];
    return {
      actor: String(socket.data.sub),
      correlationId: id,
      causationId: id,
      requestId: id,
      ip: socket.handshake.address || null,
      userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null,
      at: now().toISOString(),
    };
  }

  async function consumeMessagePoint(actor: SupportActor): Promise<void> {
    try {
      await (actor.agent ? agentLimiter : userLimiter).consume(String(actor.sub));
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const seconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      const rule = actor.agent ? limits.agentMessages : limits.userMessages;
      throw new SupportError(
        'rate_limited',
        `too many messages: at most ${rule.points} in ${rule.seconds} seconds; try again in ${seconds} second${seconds === 1 ? '' : 's'}`,
      );
    }
  }

  // ---- presence: distinct agents connected anywhere ----
  let presence: { value: number; at: number } | undefined;
  let presenceInFlight: Promise<number> | undefined;
  let presenceTimer: NodeJS.Timeout | undefined;
  const localAgents = () => new Set([...nsp.sockets.values()].filter((s) => s.data.agent).map((s) => s.data.sub)).size;
  function countAgents(): Promise<number> {
    presenceInFlight ??= (async () => {
      try {
        const sockets = await nsp.in(rooms.agents).timeout(2_000).fetchSockets();
        return new Set(sockets.map((s) => s.data.sub)).size;
      } catch {
        return localAgents(); // another node did not answer in time
      }
    })().then((value) => {
      presence = { value, at: Date.now() };
      presenceInFlight = undefined;
      return value;
    });
    return presenceInFlight;
  }
  async function agentsOnline(): Promise<number> {
    if (presence && Date.now() - presence.at < 2_000) return presence.value;
    return await countAgents();
  }
  function announcePresence(): void {
    clearTimeout(presenceTimer);
    presenceTimer = setTimeout(() => {
      presence = undefined;
      void countAgents().then((agentsOnline) => nsp.emit('support:presence', { agentsOnline }));
    }, 100);
  }

  // ---- broadcasting what a command changed ----
  function publish(change: TicketChange, exceptSocketId?: string): void {
    const { ticket } = change;
    const targets = [rooms.ticket(ticket.ticketId), rooms.user(ticket.openedBy), rooms.agents];
    for (const message of change.messages) {
      const operator = exceptSocketId ? nsp.to(targets).except(exceptSocketId) : nsp.to(targets);
      operator.emit('ticket:message', message);
    }
    const opened = change.messages.some((m) => m.seq === 1);
    if (change.ticketChanged || opened) nsp.to(targets).emit('ticket:updated', ticket);
  }

  function joinTicket(socket: SupportSocket, state: LocalState, ticketId: string, openedBy: number): void {
    if (state.joined.has(ticketId)) return;
    if (state.joined.size >= limits.joinedTickets) {
      const oldest = state.joined.keys().next().value!;
      state.joined.delete(oldest);
      state.typingAt.delete(oldest);
      void socket.leave(rooms.ticket(oldest));
    }
    state.joined.set(ticketId, openedBy);
    void socket.join(rooms.ticket(ticketId));
  }

  /** The ticket's opener, if this socket may see it: from its rooms, else from the read model. */
  async function ensureJoined(socket: SupportSocket, state: LocalState, ticketId: string): Promise<number> {
    checkTicketId(ticketId);
    const known = state.joined.get(ticketId);
    if (known !== undefined) return known;
    const ticket = await service.findTicket(await actorOf(socket), ticketId);
    joinTicket(socket, state, ticketId, ticket.openedBy);
    return ticket.openedBy;
  }

  // ---- the handshake: a session or nothing ----
  nsp.use(async (rawSocket, next) => {
    const socket = rawSocket as SupportSocket;
    try {
      const headers = socket.handshake.headers;
      if (typeof headers.origin === 'string' && !originAllowed(headers.origin, headers.host, ctx.config.PUBLIC_URL)) {
        next(refusal('origin_not_allowed'));
        return;
      }
      const token = parseCookies(headers.cookie ?? '')[SESSION_COOKIE];
      // The handshake travels to other nodes with fetchSockets: the session cookie must not.
      delete headers.cookie;
      const account = token && token.length < 200 ? await findAccount(database.db, database.rm, token, now()) : undefined;
      if (!account) {
        next(refusal('login_required', { message: { en: STRINGS.en.loginRequired, nl: STRINGS.nl.loginRequired } }));
        return;
      }
      const session = await database.db.selectFrom('sessions').select('expires_at').where('id_hash', '=', account.sessionHash).executeTakeFirst();
      if (!session) {
        next(refusal('login_required', { message: { en: STRINGS.en.loginRequired, nl: STRINGS.nl.loginRequired } }));
        return;
      }
      socket.data = { sub: account.sub, agent: account.staffRole === SUPPORT_AGENT };
      const state: LocalState = {
        sessionHash: account.sessionHash,
        organisationId: account.organisationId,
        joined: new Map(),
        typingAt: new Map(),
        inFlight: 0,
        tokens: limits.eventBurst,
        refilledAt: Date.now(),
      };
      // Disconnect when the session expires (capped at the timer limit; the reconnect re-checks).
      const msLeft = Math.max(0, session.expires_at.getTime() - now().getTime());
      state.expiry = setTimeout(() => socket.disconnect(true), Math.min(msLeft, 2 ** 31 - 1));
      state.expiry.unref();
      local.set(socket, state);
      next();
    } catch (error) {
      logger.error({ err: error }, 'support handshake failed');
      next(refusal('internal_error'));
    }
  });

  // ---- events ----
  type Handler<T> = (input: T, socket: SupportSocket, state: LocalState) => Promise<Record<string, unknown>>;

  function on<T>(socket: SupportSocket, event: string, schema: ZodType<T>, handler: Handler<T>): void {
    socket.on(event, async (...args: unknown[]) => {
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (response: AckResponse) => void) : undefined;
      const reply = (response: AckResponse) => {
        if (!ack) return;
        try {
          ack(response);
        } catch (error) {
          logger.warn({ err: error, event }, 'acknowledgement failed');
        }
      };
      const state = local.get(socket);
      if (!state) return;
      // A token bucket per socket: floods are answered, not served.
      const at = Date.now();
      state.tokens = Math.min(limits.eventBurst, state.tokens + ((at - state.refilledAt) / 1000) * limits.eventsPerSecond);
      state.refilledAt = at;
      if (state.tokens < 1) {
        reply(failure('rate_limited', 'too many events: slow down'));
        return;
      }
      state.tokens -= 1;
      if (state.inFlight >= limits.inFlight) {
        reply(failure('too_many_pending', `at most ${limits.inFlight} requests may wait for an answer at once`));
        return;
      }
      const parsed = schema.safeParse(args[0]);
      if (!parsed.success) {
        reply(failure('invalid_payload', describeIssues(parsed.error)));
        return;
      }
      state.inFlight += 1;
      try {
        reply({ ok: true, ...(await handler(parsed.data, socket, state)) });
      } catch (error) {
        if (error instanceof SupportError) {
          reply(failure(error.code, error.message));
        } else {
          logger.error({ err: error, event, sub: socket.data.sub }, 'support event failed');
          reply(failure('internal_error', 'something went wrong; try again'));
        }
      } finally {
        state.inFlight -= 1;
      }
    });
  }

  nsp.on('connection', (rawSocket) => {
    const socket = rawSocket as SupportSocket;
    const state = local.get(socket);
    if (!state) {
      socket.disconnect(true);
      return;
    }
    const { sub, agent } = socket.data;
    void socket.join([rooms.session(state.sessionHash), rooms.user(sub), ...(agent ? [rooms.agents] : [])]);
    logger.debug({ sub, agent }, 'support socket connected');

    socket.onAny((event: string, ...args: unknown[]) => {
      if (KNOWN_EVENTS.has(event)) return;
      const ack = args[args.length - 1];
      if (typeof ack === 'function') {
        try {
          (ack as (r: AckResponse) => void)(failure('unknown_event', `there is no event "${String(event).slice(0, 50)}"`));
        } catch {
          // the client's problem
        }
      }
    });

    on(socket, 'ticket:open', openSchema, async (input, s, st) => {
      checkMessageText(input.message);
      const actor = await actorOf(s);
      await consumeMessagePoint(actor);
      const change = await service.openTicket(
        actor,
        {
          subject: input.subject,
          group: input.group,
          clientId: input.clientId ?? null,
          text: input.message,
          clientMessageId: input.clientMessageId,
          organisationId: st.organisationId,
        },
        metadataOf(s),
      );
      joinTicket(s, st, change.ticket.ticketId, change.ticket.openedBy);
      if (!change.duplicate) publish(change, s.id);
      return { ticketId: change.ticket.ticketId, seq: 1, ticket: change.ticket, duplicate: change.duplicate, agentsOnline: await agentsOnline() };
    });

    on(socket, 'ticket:message', messageSchema, async (input, s, st) => {
      checkTicketId(input.ticketId);
      checkMessageText(input.text);
      const actor = await actorOf(s);
      await consumeMessagePoint(actor);
      const change = await service.postMessage(actor, input.ticketId, input.text, input.clientMessageId, metadataOf(s));
      joinTicket(s, st, input.ticketId, change.ticket.openedBy);
      if (!change.duplicate) publish(change, s.id);
      const message = change.messages.find((m) => m.seq === change.seq);
      return { ticketId: input.ticketId, seq: change.seq, ...(message ? { at: message.at } : {}), duplicate: change.duplicate };
    });

    on(socket, 'ticket:join', joinSchema, async (input, s, st) => {
      checkTicketId(input.ticketId);
      const ticket = await service.findTicket(await actorOf(s), input.ticketId);
      // Join the room before reading: whatever is stored after the read arrives live.
      joinTicket(s, st, ticket.ticketId, ticket.openedBy);
      const { messages, more } = await service.messagesAfter(ticket.ticketId, input.afterSeq ?? 0);
      return { ticket, messages, more };
    });

    on(socket, 'ticket:leave', ticketOnlySchema, async (input, s, st) => {
      st.joined.delete(input.ticketId);
      st.typingAt.delete(input.ticketId);
      await s.leave(rooms.ticket(input.ticketId));
      return {};
    });

    on(socket, 'ticket:list', listSchema, async (input, s) => {
      const actor = await actorOf(s);
      return { tickets: await service.listTickets(actor, input?.scope ?? (actor.agent ? 'all' : 'mine')) };
    });

    on(socket, 'ticket:typing', ticketOnlySchema, async (input, s, st) => {
      const openedBy = await ensureJoined(s, st, input.ticketId);
      const last = st.typingAt.get(input.ticketId) ?? 0;
      const at = Date.now();
      if (at - last >= 1_000) {
        st.typingAt.set(input.ticketId, at);
        // volatile: a typing mark is worth nothing late, so it is never queued for a slow socket
        nsp.to(rooms.ticket(input.ticketId))
          .except(s.id)
          .volatile.emit('ticket:typing', { ticketId: input.ticketId, author: sub, authorRole: sub === openedBy ? 'user' : 'agent' });
      }
      return {};
    });

    on(socket, 'ticket:read', readSchema, async (input, s, st) => {
      const openedBy = await ensureJoined(s, st, input.ticketId);
      nsp.to(rooms.ticket(input.ticketId))
        .except(s.id)
        .emit('ticket:read', { ticketId: input.ticketId, seq: input.seq, reader: sub, readerRole: sub === openedBy ? 'user' : 'agent' });
      return {};
    });

    on(socket, 'ticket:assign', assignSchema, async (input, s) => {
      const actor = await actorOf(s);
      if (supportAbility(actor).cannot('assign', 'Ticket')) throw new SupportError('forbidden', 'only a support agent can assign tickets');
      checkTicketId(input.ticketId);
      const change = await service.assign(actor, input.ticketId, input.assignee === undefined ? actor.sub : input.assignee, metadataOf(s));
      if (!change.duplicate) publish(change);
      return { ticket: change.ticket };
    });

    on(socket, 'ticket:status', statusSchema, async (input, s) => {
      const actor = await actorOf(s);
      if (supportAbility(actor).cannot('changeStatus', 'Ticket')) throw new SupportError('forbidden', 'only a support agent can change the status');
      checkTicketId(input.ticketId);
      const change = await service.changeStatus(actor, input.ticketId, input.status, metadataOf(s));
      if (!change.duplicate) publish(change);
      return { ticket: change.ticket };
    });

    on(socket, 'ticket:rate', rateSchema, async (input, s) => {
      checkTicketId(input.ticketId);
      const change = await service.rate(await actorOf(s), input.ticketId, input.rating, metadataOf(s));
      if (!change.duplicate) publish(change);
      return { ticket: change.ticket };
    });

    socket.on('disconnect', () => {
      clearTimeout(state.expiry);
      if (agent) announcePresence();
    });

    if (agent) announcePresence();
    else void agentsOnline().then((agentsOnline) => socket.emit('support:presence', { agentsOnline }));
  });

  // ---- housekeeping: slow consumers, revoked agents ----
  let sweeps = 0;
  const sweep = setInterval(() => {
    sweeps += 1;
    const agentSockets: SupportSocket[] = [];
    for (const raw of nsp.sockets.values()) {
      const socket = raw as SupportSocket;
      if (socket.data.agent) agentSockets.push(socket);
      const conn = socket.conn as unknown as { writeBuffer?: unknown[]; transport?: { socket?: { bufferedAmount?: number } } };
      const queued = conn.writeBuffer?.length ?? 0;
      const buffered = conn.transport?.socket?.bufferedAmount ?? 0;
      // It reads nothing: cut it off rather than buffer for it; it catches up with afterSeq.
      if (queued > limits.maxQueuedPackets || buffered > limits.maxBufferedBytes) {
        logger.warn({ sub: socket.data.sub, queued, buffered }, 'support socket does not read; disconnecting it');
        socket.disconnect(true);
      }
    }
    if (sweeps % 5 === 0 && agentSockets.length > 0) {
      const subs = [...new Set(agentSockets.map((s) => s.data.sub))];
      database.db
        .selectFrom('users')
        .select(['sub', 'staff_role'])
        .where('sub', 'in', subs)
        .execute()
        .then((rows) => {
          const still = new Set(rows.filter((r) => r.staff_role === SUPPORT_AGENT).map((r) => r.sub));
          for (const socket of agentSockets) if (!still.has(socket.data.sub)) socket.disconnect(true);
        })
        .catch((error: unknown) => logger.warn({ err: error }, 'could not re-check support agents'));
    }
    // Another node may have died without saying so: refresh what users see now and then.
    if (sweeps % 15 === 0 && presence) {
      const before = presence.value;
      void countAgents().then((value) => {
        if (value !== before) nsp.emit('support:presence', { agentsOnline: value });
      });
    }
  }, 2_000);
  sweep.unref();

  let closing: Promise<void> | undefined;
  return {
    io,
    namespace: nsp as unknown as Namespace,
    endSession(sessionHash) {
      nsp.in(rooms.session(sessionHash)).disconnectSockets(true);
    },
    agentsOnline,
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        clearTimeout(presenceTimer);
        for (const namespace of [io.of('/'), nsp]) {
          namespace.local.disconnectSockets(true);
          // Tells the other nodes this one is gone (they stop waiting for its answers).
          namespace.adapter.close();
        }
        io.engine.close();
        await adapterPool.end().catch(() => {});
      })();
      return closing;
    },
  };
}
