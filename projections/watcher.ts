import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from '../src/db/database.ts';
import { type Position, START, comparePositions } from '../src/eventstore/port.ts';
import { type ProjectionChange, PROJECTION_CHANNEL, decodeChange, readCheckpoints } from './apply.ts';
import { LANES, type LaneName } from './index.ts';

export interface ProjectionWatcher {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** the newest checkpoint this node knows `lane` (default: the policy lane) has reached */
  position(lane?: LaneName): Position;
  /** whether every one of `lanes` (default: all) reached `position` */
  reached(position: Position, lanes?: readonly LaneName[]): boolean;
  /**
   * Resolves true once every one of `lanes` (default: all) reached `position`, false after
   * `timeoutMs`. A write waits only for the lanes that project its stream (`lanesOf`).
   */
  waitFor(position: Position, timeoutMs: number, lanes?: readonly LaneName[]): Promise<boolean>;
  /**
   * A batch of one lane committed here or on another node. A listener may return a promise (a
   * cache refreshing what the batch changed): waits for the batch's position resolve once it
   * settles, so a write answers when this node already decides by it.
   */
  onChange(listener: (change: ProjectionChange) => Promise<unknown> | void): () => void;
  /** the notification channel dropped or came back: whatever was cached from it is suspect */
  onReset(listener: (connected: boolean) => void): () => void;
  /** true while the LISTEN connection is up (caches may trust notifications) */
  connected(): boolean;
  /** called by the local projector right after a commit, before the NOTIFY round trip */
  advance(change: ProjectionChange): void;
}

/**
 * Every node follows the projector through LISTEN: it learns the checkpoint (for read-your-
 * writes) and which clients changed (for the policy cache). While the connection is down,
 * waiting falls back to polling the checkpoint table.
 */
export function createProjectionWatcher(database: Database, logger: Logger, options: { heartbeatMs?: number } = {}): ProjectionWatcher {
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const known = new Map<LaneName, Position>(LANES.map((lane) => [lane, START]));
  const reached = (position: Position, lanes: readonly LaneName[] = LANES) =>
    lanes.every((lane) => comparePositions(known.get(lane) ?? START, position) >= 0);
  // One shared wake-up: a lane's advance settles, in one pass, every wait it completes.
  const waiting = new Set<{ position: Position; lanes: readonly LaneName[]; done: (value: boolean) => void }>();
  let client: pg.Client | undefined;
  let up = false;
  let running = false;
  let retry: NodeJS.Timeout | undefined;

  // Notifications can be lost with their connection: while anyone waits, one shared timer also
  // looks at the checkpoint table (rarely while notifications flow, often while they do not).
  let poll: NodeJS.Timeout | undefined;
  function startPolling(): void {
    if (poll) return;
    poll = setInterval(() => void refresh().catch(() => {}), up ? 250 : 25);
    poll.unref();
  }
  function stopPolling(): void {
    clearInterval(poll);
    poll = undefined;
  }

  function learn(lane: LaneName, position: Position): boolean {
    if (comparePositions(position, known.get(lane) ?? START) <= 0) return false;
    known.set(lane, position);
    for (const waiter of waiting) if (reached(waiter.position, waiter.lanes)) waiter.done(true);
    return true;
  }

  const listeners = new Set<(change: ProjectionChange) => Promise<unknown> | void>();
  // The last batch whose listeners are still refreshing: later batches learn after it, in order.
  let settling: Promise<void> | undefined;
  // The newest batch each lane's listeners were told of. The local projector announces a batch
  // before its NOTIFY comes back: the echo is not news (a second invalidation would cancel the
  // refresh the first one started).
  const announced = new Map<LaneName, Position>();
  function isNews(change: ProjectionChange): boolean {
    const last = announced.get(change.lane);
    if (last && comparePositions(change.position, last) <= 0) return false;
    announced.set(change.lane, change.position);
    return true;
  }

  function advance(change: ProjectionChange): void {
    if (!isNews(change)) return;
    const pending: Promise<unknown>[] = [];
    for (const listener of listeners) {
      const result = listener(change);
      if (result) pending.push(result);
    }
    if (pending.length === 0 && !settling) {
      learn(change.lane, change.position);
      return;
    }
    const settled: Promise<void> = (settling ?? Promise.resolve())
      .then(() => Promise.allSettled(pending))
      .then(() => {
        if (settling === settled) settling = undefined;
        learn(change.lane, change.position);
      });
    settling = settled;
  }

  function emit(change: ProjectionChange): void {
    for (const listener of listeners) listener(change)?.catch(() => {});
  }

  /** Learns the checkpoints from the table. What changed is unknown then: caches must drop everything. */
  async function refresh(): Promise<void> {
    const checkpoints = await readCheckpoints(database.rm);
    for (const [lane, position] of checkpoints) {
      if (!learn(lane, position)) continue;
      const change: ProjectionChange = { lane, position, clientIds: [], organisationIds: [], all: true };
      if (isNews(change)) emit(change);
    }
  }

  // A LISTEN connection can die silently (a partition leaves it half-open): unless it answers a
  // query now and then, its silence would look like "nothing changed" and caches would trust
  // stale entries. The heartbeat bounds that: a missed beat resets, and caches read through.
  let heartbeat: NodeJS.Timeout | undefined;
  function beat(c: pg.Client, fail: () => void): void {
    heartbeat = setTimeout(() => {
      if (client !== c) return;
      c.query('SELECT 1').then(() => beat(c, fail), fail);
    }, heartbeatMs);
    heartbeat.unref();
  }

  async function connect(delay = 100): Promise<void> {
    if (!running) return;
    const c = new pg.Client(database.clientConfig('keyledger-watcher'));
    client = c;
    const fail = (error?: unknown) => {
      if (client !== c) return;
      client = undefined;
      clearTimeout(heartbeat);
      if (up) {
        up = false;
        events.emit('reset', false);
        if (poll) {
          stopPolling();
          startPolling();
        }
        logger.warn({ err: error instanceof Error ? { message: error.message } : undefined }, 'projection notifications lost; reconnecting');
      }
      c.end().catch(() => {});
      if (!running) return;
      retry = setTimeout(() => void connect(Math.min(delay * 2, 5_000)), delay);
    };
    c.on('error', fail);
    c.on('end', fail);
    c.on('notification', (message) => {
      const change = message.payload ? decodeChange(message.payload) : undefined;
      if (change) advance(change);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${PROJECTION_CHANNEL}`);
      await refresh();
      if (client !== c) return;
      up = true;
      events.emit('reset', true);
      if (delay > 100) logger.info('projection notifications back');
      if (poll) {
        stopPolling();
        startPolling();
      }
      beat(c, fail);
    } catch (error) {
      fail(error);
    }
  }

  return {
    async start() {
      running = true;
      await connect();
    },
    async stop() {
      running = false;
      clearTimeout(retry);
      clearTimeout(heartbeat);
      stopPolling();
      const c = client;
      client = undefined;
      up = false;
      await c?.end().catch(() => {});
    },
    position: (lane = 'policy') => known.get(lane) ?? START,
    reached,
    connected: () => up,
    advance,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onReset(listener) {
      events.on('reset', listener);
      return () => events.off('reset', listener);
    },
    async waitFor(position, timeoutMs, lanes = LANES) {
      if (reached(position, lanes)) return true;
      return await new Promise<boolean>((resolve) => {
        const waiter = {
          position,
          lanes,
          done: (value: boolean) => {
            if (!waiting.delete(waiter)) return;
            clearTimeout(timer);
            if (waiting.size === 0) stopPolling();
            resolve(value);
          },
        };
        waiting.add(waiter);
        startPolling();
        const timer = setTimeout(() => {
          refresh()
            .catch(() => {})
            .finally(() => waiter.done(reached(position, lanes)));
        }, timeoutMs);
      });
    },
  };
}
