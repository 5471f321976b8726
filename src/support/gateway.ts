import type http from 'node:http';
import { Server, type Namespace } from 'socket.io';
import type { AppContext } from '../context.ts';
import { createSupportAdapter } from './adapter.ts';
import { createAssigneeLock } from './assignee-lock.ts';
import { createPool } from '../db/connections.ts';
import type { Metrics } from '../metrics/metrics.ts';
import {
  DEFAULT_LIMITS,
  type LocalState,
  SUPPORT_NAMESPACE,
  type SupportLimits,
  type SupportNamespace,
  type SupportSocket,
  createDeskDigest,
  cutOff,
  overLimit,
  publishChange,
  refusal,
  rooms,
} from './channel.ts';
import { authenticate, loginRequired } from './handshake.ts';
import { registerTicketHandlers } from './handlers.ts';
import { createMessageLimiter } from './limits.ts';
import { createPresence } from './presence.ts';
import { TicketService, type TicketChange } from './service.ts';
import { TICKET_STREAM_PREFIX } from './events.ts';
import { ticketAggregate } from './ticket.ts';
import { SUPPORT_AGENT, createStaffCheck } from './staff.ts';
import { TicketQueries } from './queries.ts';
import { DeskService } from './desk-service.ts';
import { TicketContextReader } from './context.ts';
import { createAnswerMailer } from './answer-mail.ts';
import { allowedRequestHost } from '../http/origin.ts';
import { formatHost } from '../http/hosts.ts';
import { randomUUID } from 'node:crypto';

export { SUPPORT_NAMESPACE } from './channel.ts';

export interface SupportGateway {
  readonly io: Server;
  readonly namespace: Namespace;
  /** a session ended (logout): its sockets on every node disconnect */
  endSession(sessionHash: string): void;
  /** distinct agents connected to any node */
  agentsOnline(): Promise<number>;
  readonly queries: TicketQueries;
  readonly desk: DeskService;
  readonly context: TicketContextReader;
  /** whether `sub` holds support_agent now (re-read at most every second) */
  isAgent(sub: number): Promise<boolean>;
  readonly service: TicketService;
  /** one message against the sender's rate limit (shared with the sockets), or `rate_limited` */
  consumeMessagePoint(actor: { sub: number; agent: boolean }): Promise<void>;
  /** fans a change made outside a socket (the desk page's forms) out to every node; an answer may mail an absent customer */
  publish(change: TicketChange, baseUrl: string | undefined): void;
  /** agents and business hours, as the customer page shows them */
  availability(): Promise<{ agentsOnline: number; groups: { group: string; withinHours: boolean; open: boolean }[] }>;
  close(): Promise<void>;
}

/**
 * The live support channel (DESIGN §9): Socket.IO on the app's HTTP server, namespace
 * `/support`, sessions from the cookie, nodes joined through @socket.io/postgres-adapter.
 */
export function createSupportGateway(
  ctx: AppContext,
  server: http.Server,
  options: { limits?: Partial<SupportLimits>; metrics?: Pick<Metrics, 'supportEvent' | 'sources' | 'enabled'> } = {},
): SupportGateway {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const { database } = ctx;
  const logger = ctx.logger.child({ component: 'support' });
  // Assignment locks are held while the projector catches up: a small pool of their own, so
  // their holders never take the connections the append and the reads need.
  const lockPool = createPool({ ...database.clientConfig('keyledger-support-locks'), max: 4 }, logger);
  const service = new TicketService({
    commands: ctx.commands,
    watcher: ctx.watcher,
    db: database.db,
    rm: database.rm,
    logger,
    writeWaitMs: ctx.config.WRITE_WAIT_MS,
    assigneeLock: createAssigneeLock(lockPool),
  });

  // The adapter keeps one connection LISTENing for ever: its own small pool, not the app's. When
  // that connection drops, the adapter takes a new one (with backoff) but never hands back the
  // dead one: the pool releases it, or four drops would leave the adapter without connections.
  let closing: Promise<void> | undefined;
  const adapterPool = createPool({ ...database.clientConfig('keyledger-socket.io'), max: 4 }, logger, { releaseAbandoned: true });
  const io = new Server(server, {
    serveClient: true,
    // A message is at most 4,000 characters: 64 kB leaves room for JSON escapes, and no more.
    maxHttpBufferSize: 64 * 1024,
    connectTimeout: 10_000,
    // A browser closed without a goodbye is noticed within 9 s, so presence tells the truth
    // within 10 s; a ping every 5 s is cheap (2,000 sockets: 400 small frames a second).
    pingInterval: 5_000,
    pingTimeout: 4_000,
    cookie: false,
    // While closing, broadcasts still in flight meet the ended pool: nothing to report then.
    adapter: createSupportAdapter(
      adapterPool,
      {
        errorHandler: (error) => {
          if (!closing) logger.warn({ err: error }, 'socket.io adapter error');
        },
      },
      database.notifier,
    ),
  });
  io.of('/').use((_socket, next) => next(refusal('unknown_namespace')));
  const nsp = io.of(SUPPORT_NAMESPACE) as unknown as SupportNamespace;
  // Customer and agent are often on different nodes, so a ticket's stream is written by both in
  // turn. Each append is told to the other nodes (in the same NOTIFY statement as the message it
  // carries, ahead of it), whose command caches follow: an answer is decided without reading the
  // stream first, so a message costs one round trip (the append) before it is delivered. Their
  // rate limits count the messages and notes in it too.
  const messageLimiter = createMessageLimiter(limits);
  const stopFollowing = ctx.commands.onAppended((stream, events) => {
    if (!stream.startsWith(TICKET_STREAM_PREFIX) || closing) return;
    // a stream's first event carries its id: the other nodes cache a new ticket from its report
    nsp.serverSideEmit('support:stream', stream, events.map((e) => ({ revision: e.revision.toString(), type: e.type, data: e.data, ...(e.revision === 0n ? { id: e.id } : {}) })));
  });
  nsp.on('support:stream', (stream, events) => {
    if (typeof stream !== 'string' || !stream.startsWith(TICKET_STREAM_PREFIX) || !Array.isArray(events)) return;
    ctx.commands.observe(
      stream,
      events.map((e) => ({ revision: BigInt(e.revision), type: e.type, data: e.data, ...(typeof e.id === 'string' ? { id: e.id } : {}) })),
      ticketAggregate,
    );
    messageLimiter.observe(events);
  });
  const local = new WeakMap<SupportSocket, LocalState>();
  const presence = createPresence(nsp);
  const deskDigest = createDeskDigest(nsp);
  if (options.metrics) options.metrics.sources.supportSockets = () => nsp.sockets.size;
  const isAgent = createStaffCheck(database.db, 1_000);
  const queries = new TicketQueries({ db: database.db, rm: database.rm });
  const desk = new DeskService({ commands: ctx.commands, watcher: ctx.watcher, db: database.db, rm: database.rm, writeWaitMs: ctx.config.WRITE_WAIT_MS, now: ctx.now });
  const context = new TicketContextReader(ctx);
  const mail = createAnswerMailer(ctx, nsp, logger);
  const consumeMessagePoint = messageLimiter.take;
  const deps = {
    nsp,
    service,
    queries,
    desk,
    context,
    mail,
    presence,
    deskDigest,
    limits,
    logger,
    now: ctx.now,
    ...(options.metrics?.enabled ? { observe: options.metrics.supportEvent } : {}),
    consumeMessagePoint,
    async actorOf(socket: SupportSocket) {
      const { sub, agent } = socket.data;
      return { sub, agent: agent && (await isAgent(sub)) };
    },
    baseUrlOf(socket: SupportSocket) {
      if (ctx.config.PUBLIC_URL) return ctx.config.PUBLIC_URL.replace(/\/+$/, '');
      const host = allowedRequestHost(ctx.config, socket.handshake.headers.host);
      return host ? `http${socket.handshake.secure ? 's' : ''}://${formatHost(host)}` : undefined;
    },
  };

  /**
   * An agent with no socket left on any node, for SUPPORT_HANDBACK_SECONDS: the tickets they
   * have and nobody answered go back to the queue (a reload in between keeps them).
   */
  const handBacks = new Map<number, NodeJS.Timeout>();
  function agentLeft(sub: number): void {
    clearTimeout(handBacks.get(sub));
    const timer = setTimeout(() => {
      handBacks.delete(sub);
      void (async () => {
        const still = await nsp.in(rooms.user(sub)).timeout(2_000).fetchSockets();
        if (still.some((s) => s.data.agent)) return;
        const actor = { sub, agent: true };
        for (const ticketId of await queries.unansweredOf(sub)) {
          const id = `handback-${randomUUID()}`;
          const metadata = { actor: 'system', correlationId: id, causationId: id, requestId: id, ip: null, userAgent: null, at: ctx.now().toISOString() };
          const change = await service.handBack(actor, ticketId, sub, metadata);
          if (!change.duplicate) publishChange(nsp, deskDigest, change);
        }
      })().catch((error: unknown) => {
        if (!closing) logger.warn({ err: error, sub }, 'could not hand back an offline agent’s tickets');
      });
    }, ctx.config.SUPPORT_HANDBACK_SECONDS * 1_000);
    timer.unref();
    handBacks.set(sub, timer);
  }

  const handshake = authenticate(ctx, local, limits, logger);
  nsp.use((socket, next) => void handshake(socket as SupportSocket, next));

  nsp.on('connection', (raw) => {
    const socket = raw as SupportSocket;
    const state = local.get(socket);
    if (!state) {
      socket.disconnect(true);
      return;
    }
    const { sub, agent } = socket.data;
    void socket.join([rooms.session(state.sessionHash), rooms.user(sub), ...(agent ? [rooms.agents] : [])]);
    registerTicketHandlers(socket, state, deps);
    socket.on('disconnect', () => {
      if (agent && !closing) {
        presence.announce();
        agentLeft(sub);
      }
    });
    if (agent) presence.announce();
    else void presence.agentsOnline().then((agentsOnline) => socket.emit('support:presence', { agentsOnline }));
  });

  /** Tells the client why, then disconnects it (a plain disconnect carries no reason). */
  function endWith(socket: SupportSocket, code: 'login_required' | 'agent_revoked'): void {
    const message = code === 'login_required' ? (loginRequired() as Error & { data: unknown }).data : undefined;
    socket.emit('support:ended', { code, ...(message ? (message as object) : {}) });
    socket.disconnect(true);
  }

  // Housekeeping every second: expired sessions (app clock), revoked agents (the user row, so a
  // revocation from the CLI or any node is seen within 2 s on every node) and sockets that do not
  // read; every 4 s: presence, in case a node died without saying so.
  let sweeps = 0;
  let checkingAgents = false;
  const sweep = setInterval(() => {
    sweeps += 1;
    const agentSockets: SupportSocket[] = [];
    const at = ctx.now().getTime();
    for (const raw of nsp.sockets.values()) {
      const socket = raw as SupportSocket;
      const state = local.get(socket);
      if (state?.expiresAt !== undefined && state.expiresAt <= at) {
        endWith(socket, 'login_required');
        continue;
      }
      if (socket.data.agent) agentSockets.push(socket);
      // It reads nothing: cut it off rather than buffer for it; it catches up with afterSeq.
      if (overLimit(socket, limits)) cutOff(socket, logger);
    }
    if (agentSockets.length > 0 && !checkingAgents) {
      checkingAgents = true;
      const subs = [...new Set(agentSockets.map((s) => s.data.sub))];
      database.db
        .selectFrom('users')
        .select(['sub', 'staff_role'])
        .where('sub', 'in', subs)
        .execute()
        .then((rows) => {
          const still = new Set(rows.filter((r) => r.staff_role === SUPPORT_AGENT).map((r) => r.sub));
          // the same answer the per-event check would read: an agent's next message needs no query
          for (const sub of subs) if (still.has(sub)) isAgent.remember(sub, true);
          for (const socket of agentSockets) {
            if (still.has(socket.data.sub)) continue;
            isAgent.forget(socket.data.sub);
            endWith(socket, 'agent_revoked');
          }
        })
        .catch((error: unknown) => {
          if (!closing) logger.warn({ err: error }, 'could not re-check support agents');
        })
        .finally(() => {
          checkingAgents = false;
        });
    }
    if (sweeps % 4 === 0) presence.refresh();
  }, 1_000);
  sweep.unref();

  return {
    io,
    namespace: nsp as unknown as Namespace,
    endSession(sessionHash) {
      nsp.in(rooms.session(sessionHash)).disconnectSockets(true);
    },
    agentsOnline: () => presence.agentsOnline(),
    queries,
    desk,
    context,
    isAgent: (sub) => isAgent(sub),
    service,
    consumeMessagePoint,
    publish(change, baseUrl) {
      publishChange(nsp, deskDigest, change);
      for (const message of change.messages) mail.answered(change.ticket, message, baseUrl);
    },
    async availability() {
      const [agentsOnline, groups] = await Promise.all([presence.agentsOnline(), desk.groups()]);
      return { agentsOnline, groups: groups.map((g) => ({ group: g.group, withinHours: g.withinHours, open: agentsOnline > 0 && g.withinHours })) };
    },
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        stopFollowing();
        for (const timer of handBacks.values()) clearTimeout(timer);
        presence.stop();
        deskDigest.stop();
        for (const namespace of [io.of('/'), nsp]) {
          namespace.local.disconnectSockets(true);
          // Tells the other nodes this one is gone (they stop waiting for its answers).
          namespace.adapter.close();
        }
        io.engine.close();
        await adapterPool.end().catch(() => {});
        await lockPool.end().catch(() => {});
      })();
      return closing;
    },
  };
}
