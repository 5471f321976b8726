import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from '../src/db/database.ts';
import { type Position, START, comparePositions } from '../src/eventstore/port.ts';
import { type ProjectionChange, PROJECTION_CHANNEL, decodeChange, readCheckpoint } from './runner.ts';

export interface ProjectionWatcher {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** the newest checkpoint this node knows the read models have reached */
  position(): Position;
  /** resolves true once the read models reached `position`, false after `timeoutMs` */
  waitFor(position: Position, timeoutMs: number): Promise<boolean>;
  /** a batch committed here or on another node */
  onChange(listener: (change: ProjectionChange) => void): () => void;
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
  let known: Position = START;
  let client: pg.Client | undefined;
  let up = false;
  let running = false;
  let retry: NodeJS.Timeout | undefined;

  // Notifications can be lost with their connection: while anyone waits, one shared timer also
  // looks at the checkpoint table (rarely while notifications flow, often while they do not).
  let waiters = 0;
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

  function learn(position: Position): void {
    if (comparePositions(position, known) <= 0) return;
    known = position;
    events.emit('position', known);
  }

  function advance(change: ProjectionChange): void {
    learn(change.position);
    events.emit('change', change);
  }

  /** Learns the checkpoint from the table. What changed is unknown then: caches must drop everything. */
  async function refresh(): Promise<void> {
    const position = await readCheckpoint(database.rm);
    if (comparePositions(position, known) <= 0) return;
    learn(position);
    events.emit('change', { position, clientIds: [], organisationIds: [], all: true } satisfies ProjectionChange);
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
    position: () => known,
    connected: () => up,
    advance,
    onChange(listener) {
      events.on('change', listener);
      return () => events.off('change', listener);
    },
    onReset(listener) {
      events.on('reset', listener);
      return () => events.off('reset', listener);
    },
    async waitFor(position, timeoutMs) {
      if (comparePositions(known, position) >= 0) return true;
      return await new Promise<boolean>((resolve) => {
        let settled = false;
        const finish = (value: boolean) => {
          if (settled) return;
          settled = true;
          events.off('position', onPosition);
          clearTimeout(timer);
          waiters -= 1;
          if (waiters === 0) stopPolling();
          resolve(value);
        };
        const onPosition = (p: Position) => {
          if (comparePositions(p, position) >= 0) finish(true);
        };
        events.on('position', onPosition);
        waiters += 1;
        startPolling();
        const timer = setTimeout(() => {
          refresh()
            .catch(() => {})
            .finally(() => finish(comparePositions(known, position) >= 0));
        }, timeoutMs);
      });
    },
  };
}
