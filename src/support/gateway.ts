import type http from 'node:http';
import { Server, type Namespace } from 'socket.io';
import type { AppContext } from '../context.ts';
import { createSupportAdapter } from './adapter.ts';
import { createPool } from '../db/connections.ts';
import type { Metrics } from '../metrics/metrics.ts';
import {
  DEFAULT_LIMITS,
  type LocalState,
  SUPPORT_NAMESPACE,
  type SupportLimits,
  type SupportNamespace,
  type SupportSocket,
  cutOff,
  overLimit,
  refusal,
  rooms,
} from './channel.ts';
import { authenticate } from './handshake.ts';
import { registerTicketHandlers } from './handlers.ts';
import { createMessageLimiter } from './limits.ts';
import { createPresence } from './presence.ts';
import { TicketService } from './service.ts';
import { SUPPORT_AGENT, createStaffCheck } from './staff.ts';

export { SUPPORT_NAMESPACE } from './channel.ts';

export interface SupportGateway {
  readonly io: Server;
  readonly namespace: Namespace;
  /** a session ended (logout): its sockets on every node disconnect */
  endSession(sessionHash: string): void;
  /** distinct agents connected to any node */
  agentsOnline(): Promise<number>;
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
  const service = new TicketService({
    commands: ctx.commands,
    watcher: ctx.watcher,
    db: database.db,
    rm: database.rm,
    logger,
    writeWaitMs: ctx.config.WRITE_WAIT_MS,
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
    pingInterval: 25_000,
    pingTimeout: 20_000,
    cookie: false,
    // While closing, broadcasts still in flight meet the ended pool: nothing to report then.
    adapter: createSupportAdapter(adapterPool, {
      errorHandler: (error) => {
        if (!closing) logger.warn({ err: error }, 'socket.io adapter error');
      },
    }),
  });
  io.of('/').use((_socket, next) => next(refusal('unknown_namespace')));
  const nsp = io.of(SUPPORT_NAMESPACE) as unknown as SupportNamespace;
  const local = new WeakMap<SupportSocket, LocalState>();
  const presence = createPresence(nsp);
  if (options.metrics) options.metrics.sources.supportSockets = () => nsp.sockets.size;
  const isAgent = createStaffCheck(database.db);
  const deps = {
    nsp,
    service,
    presence,
    limits,
    logger,
    now: ctx.now,
    ...(options.metrics?.enabled ? { observe: options.metrics.supportEvent } : {}),
    consumeMessagePoint: createMessageLimiter(database.pool, limits),
    async actorOf(socket: SupportSocket) {
      const { sub, agent } = socket.data;
      return { sub, agent: agent && (await isAgent(sub)) };
    },
  };

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
      clearTimeout(state.expiry);
      if (agent) presence.announce();
    });
    if (agent) presence.announce();
    else void presence.agentsOnline().then((agentsOnline) => socket.emit('support:presence', { agentsOnline }));
  });

  // Housekeeping every 2 s: sockets that do not read; every 10 s: revoked agents; every 30 s: presence.
  let sweeps = 0;
  const sweep = setInterval(() => {
    sweeps += 1;
    const agentSockets: SupportSocket[] = [];
    for (const raw of nsp.sockets.values()) {
      const socket = raw as SupportSocket;
      if (socket.data.agent) agentSockets.push(socket);
      // It reads nothing: cut it off rather than buffer for it; it catches up with afterSeq.
      if (overLimit(socket, limits)) cutOff(socket, logger);
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
    if (sweeps % 15 === 0) presence.refresh();
  }, 2_000);
  sweep.unref();

  return {
    io,
    namespace: nsp as unknown as Namespace,
    endSession(sessionHash) {
      nsp.in(rooms.session(sessionHash)).disconnectSockets(true);
    },
    agentsOnline: () => presence.agentsOnline(),
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        presence.stop();
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
