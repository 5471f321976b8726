/**
 * "Where does a support message wait": times, inside one app node, the stages of a message —
 * receipt on the socket → the command (zod, rate limit in memory, agent check), the command handler up to
 * "stored" (stream queue, aggregate load, kl_append, conflicts with the other node), the local
 * fan-out, the hop to the other node (publish → NOTIFY → its LISTEN → its event loop), and the
 * projection wait the sender's ack adds — plus the event loop's delay. Bench-only: it wraps the
 * app's objects from outside, as bench/phases.ts does for commands.
 */
import { type PerformanceEntry, PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import type { App } from '../src/app.ts';

export const STAGES = [
  'event loop delay',
  'garbage collection pause',
  '  of which major',
  'receipt → command',
  'command → stored',
  '  aggregate load',
  '  kl_append',
  'local fan-out (sync)',
  'publish → other node',
  '  pg_notify query',
  'stored → ack (projection)',
] as const;
export type Stage = (typeof STAGES)[number];
export type StageSamples = Partial<Record<Stage, number[]>> & {
  conflicts?: number;
  messages?: number;
  reads?: number;
  queries?: Record<string, number>;
  /** when each major collection began (wall-clock ms) and how long it paused */
  majors?: [number, number][];
};

/** Wall-clock ms with sub-ms precision, comparable between processes on one machine. */
const wall = () => performance.timeOrigin + performance.now();

export function instrumentSupport(app: App): { take(): StageSamples } {
  let samples: Record<string, number[]> = {};
  let conflicts = 0;
  let messages = 0;
  let reads = 0;
  let majors: [number, number][] = [];
  /** every query this node's main thread sent, by the start of its text (the projector's worker is not counted) */
  let queries = new Map<string, number>();
  const record = (stage: Stage, ms: number) => (samples[stage] ??= []).push(ms);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  // every pause the garbage collector makes on this node's main thread
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      record('garbage collection pause', entry.duration);
      // the major collections (mark-compact) apart: they are the long ones
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        record('  of which major', entry.duration);
        majors.push([performance.timeOrigin + entry.startTime, entry.duration]);
      }
    }
  }).observe({ entryTypes: ['gc'] });

  // the database round trips a message makes, by their text
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const originalQuery = prototype.query;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0] as string | { text?: string } | undefined;
    const text = typeof q === 'string' ? q : (q?.text ?? '');
    const kind = text.replace(/\s+/g, ' ').trim().slice(0, 48);
    queries.set(kind, (queries.get(kind) ?? 0) + 1);
    const stage: Stage | undefined = text.includes('pg_notify') ? '  pg_notify query' : undefined;
    const started = performance.now();
    // pg.Pool#query calls the client with a callback; kysely awaits a promise
    const last = args.length - 1;
    if (stage && typeof args[last] === 'function') {
      const callback = args[last] as (...a: unknown[]) => unknown;
      args[last] = (...a: unknown[]) => {
        record(stage, performance.now() - started);
        return callback(...a);
      };
    }
    const result = originalQuery.apply(this, args);
    if (stage && result instanceof Promise) result.then(() => record(stage, performance.now() - started), () => {});
    return result;
  };

  const { store } = app.ctx;
  const originalAppend = store.append.bind(store);
  store.append = async (...args) => {
    const started = performance.now();
    try {
      return await originalAppend(...args);
    } finally {
      if (args[0].startsWith('ticket-')) record('  kl_append', performance.now() - started);
    }
  };
  const originalRead = store.readStream.bind(store);
  store.readStream = async (...args) => {
    const started = performance.now();
    try {
      return await originalRead(...args);
    } finally {
      if (args[0].startsWith('ticket-')) {
        reads += 1;
        record('  aggregate load', performance.now() - started);
      }
    }
  };
  store.appendReports.on('append', (r) => {
    if (r.outcome === 'conflict' && r.stream.startsWith('ticket-')) conflicts += 1;
  });

  // receipt: socket.io calls onAny listeners just before the event's own handler
  const arrivals = new Map<string, number>();
  app.support.namespace.on('connection', (socket) => {
    socket.onAny((event: string, payload: { clientMessageId?: unknown }) => {
      if ((event === 'ticket:message' || event === 'ticket:note' || event === 'ticket:canned') && typeof payload?.clientMessageId === 'string') {
        arrivals.set(`${socket.data.sub}:${payload.clientMessageId}`, performance.now());
      }
    });
  });

  const { service } = app.support;
  for (const name of ['postMessage', 'addNote'] as const) {
    const original = service[name].bind(service);
    service[name] = async (actor, ticketId, text, clientMessageId, metadata, onStored, allowed) => {
      const started = performance.now();
      const key = `${actor.sub}:${clientMessageId}`;
      const arrived = arrivals.get(key);
      arrivals.delete(key);
      if (arrived !== undefined) record('receipt → command', started - arrived);
      let storedAt: number | undefined;
      const change = await original(actor, ticketId, text, clientMessageId, metadata, (stored) => {
        storedAt = performance.now();
        record('command → stored', storedAt - started);
        onStored?.(stored);
        record('local fan-out (sync)', performance.now() - storedAt);
      }, allowed);
      if (storedAt !== undefined) {
        messages += 1;
        record('stored → ack (projection)', performance.now() - storedAt);
      }
      return change;
    };
  }

  // the hop between nodes: each cluster message is stamped when published, timed when received
  const adapter = app.support.namespace.adapter as unknown as {
    doPublish(message: Record<string, unknown>): Promise<string>;
    onMessage(message: Record<string, unknown>, offset?: string): void;
  };
  const doPublish = adapter.doPublish.bind(adapter);
  adapter.doPublish = (message) => doPublish(message.type === 3 ? { ...message, sentAt: wall() } : message);
  const onMessage = adapter.onMessage.bind(adapter);
  adapter.onMessage = (message, offset) => {
    const inner = Array.isArray(message.data) && message.type === 1_000 ? (message.data as Record<string, unknown>[]) : [message];
    for (const m of inner) if (typeof m.sentAt === 'number') record('publish → other node', wall() - m.sentAt);
    onMessage(message, offset);
  };

  return {
    take() {
      const taken: StageSamples = { ...samples, conflicts, messages, reads, queries: Object.fromEntries(queries), majors };
      queries = new Map();
      taken['event loop delay'] = [loop.percentile(50) / 1e6, loop.percentile(99) / 1e6, loop.max / 1e6];
      samples = {};
      majors = [];
      conflicts = 0;
      messages = 0;
      reads = 0;
      loop.reset();
      arrivals.clear();
      return taken;
    },
  };
}
