import pg from 'pg';
import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import { READ_MODEL_SCHEMA } from '../src/db/schema.ts';
import type { Database } from '../src/db/database.ts';
import { type EventStore, type Position, type RecordedEvent, type Subscription, comparePositions } from '../src/eventstore/port.ts';
import { type LaneName, PROJECTION_GROUPS, type ProjectionGroup } from './index.ts';
import { CheckpointMoved, type ProjectionChange, changeOf, ensureCheckpoints, projectBatch } from './apply.ts';

export {
  CheckpointMoved,
  PROJECTION_CHANNEL,
  type ProjectionChange,
  decodeChange,
  encodeChange,
  projectBatch,
  readCheckpoints,
} from './apply.ts';

/** advisory lock key (namespace 1262): 1 = the active projector */
const LEADER_LOCK = 1;
/** a lane skips the transaction of a batch it has nothing in, writing its checkpoint at least this often */
const SKIP_WRITE_MS = 1_000;

/** Whether some node holds the projector's leader lock in this database (the read models are being kept up). */
export async function projectorLeads(db: Kysely<unknown>): Promise<boolean> {
  const { rows } = await sql<{ leading: boolean }>`
    SELECT EXISTS (
      SELECT 1 FROM pg_locks
       WHERE locktype = 'advisory' AND granted AND classid = 1262 AND objid = ${LEADER_LOCK} AND objsubid = 2
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    ) AS leading`.execute(db);
  return rows[0]?.leading ?? false;
}

/** One committed batch of one lane, for metrics (projection lag and batch size per group). */
export interface BatchReport {
  readonly lane: LaneName;
  /** events read in the batch (all of them advance the lane's checkpoint) */
  readonly events: number;
  /** milliseconds from the batch's start to its commit */
  readonly ms: number;
  /** `metadata.at` of the batch's newest event: now minus this is the lane's lag */
  readonly newestEventAt: string;
  readonly position: Position;
}

export interface Projector {
  start(): void;
  stop(): Promise<void>;
  isLeader(): boolean;
}

export interface ProjectorOptions {
  readonly database: Database;
  readonly store: EventStore;
  readonly logger: Logger;
  /** called after each committed batch on this node (before other nodes hear of it) */
  readonly onBatch?: (change: ProjectionChange, report: BatchReport) => void;
  readonly standbyRetryMs?: number;
  /** the lanes to run (default: every group); a group without a checkpoint starts from zero */
  readonly groups?: readonly ProjectionGroup[];
}

/**
 * The projector: the node holding the leader advisory lock runs one lane per projection group,
 * each subscribed from its own checkpoint, each with its own transactions; the others stand by
 * and retry. Losing the lock connection stops projecting at once (the lock is gone with it).
 */
export function createProjector(options: ProjectorOptions): Projector {
  const { database, store, logger } = options;
  const groups = options.groups ?? PROJECTION_GROUPS;
  const retryMs = options.standbyRetryMs ?? 1_000;
  let running = false;
  let leader = false;
  let lockClient: pg.Client | undefined;
  const subscriptions = new Map<LaneName, Subscription>();
  let retryTimer: NodeJS.Timeout | undefined;
  // While the database is away every retry fails the same way: one warning a minute says so.
  let lastWarning = 0;
  const quietly = (error: unknown, message: string) => {
    const now = Date.now();
    const loud = now - lastWarning > 60_000;
    if (loud) lastWarning = now;
    logger[loud ? 'warn' : 'debug']({ err: error }, message);
  };

  function follow(group: ProjectionGroup, from: Position): void {
    /** what the lane's checkpoint row holds */
    let stored = from;
    /** the newest event the lane has seen (past `stored` while it skips batches it has nothing in) */
    let seen = from;
    let lastWrite = performance.now();
    let flushTimer: NodeJS.Timeout | undefined;
    // One batch or flush at a time per lane: the flush timer must not race a batch.
    let chain: Promise<unknown> = Promise.resolve();
    const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
      const next = chain.then(work, work);
      chain = next.catch(() => {});
      return next;
    };

    async function write(events: readonly RecordedEvent[], to: Position, started: number): Promise<void> {
      clearTimeout(flushTimer);
      try {
        const change = await projectBatch(database, READ_MODEL_SCHEMA, group, events, stored, to);
        stored = seen = to;
        lastWrite = performance.now();
        const newest = events[events.length - 1];
        if (change) {
          options.onBatch?.(change, {
            lane: group.name,
            events: events.length,
            ms: performance.now() - started,
            newestEventAt: newest?.metadata.at ?? new Date().toISOString(),
            position: change.position,
          });
        }
      } catch (error) {
        if (!(error instanceof CheckpointMoved)) throw error;
        logger.info({ lane: group.name, checkpoint: error.actual }, 'checkpoint moved; resubscribing');
        resubscribe(group, error.actual);
      }
    }

    const subscription = store.subscribeAll(from, {
      onEvents: (events) =>
        exclusive(async () => {
          const started = performance.now();
          const newest = events[events.length - 1]!;
          // Nothing for this lane (ticket traffic on the policy lane, say): no transaction, only
          // this node learns the position now; the checkpoint row follows within a second.
          if (!events.some((e) => group.projects(e.stream)) && performance.now() - lastWrite < SKIP_WRITE_MS) {
            seen = newest.position;
            options.onBatch?.(changeOf(group.name, seen, []), { lane: group.name, events: events.length, ms: 0, newestEventAt: newest.metadata.at, position: seen });
            clearTimeout(flushTimer);
            flushTimer = setTimeout(() => void exclusive(() => (comparePositions(seen, stored) > 0 ? write([], seen, performance.now()) : Promise.resolve())).catch((error: unknown) => quietly(error, `checkpoint flush failed (${group.name})`)), SKIP_WRITE_MS);
            flushTimer.unref();
            return;
          }
          await write(events, newest.position, started);
          // what arrives while the lane lingers is read as one page, and becomes one batch
          const linger = group.lingerMs - (performance.now() - started);
          if (linger > 0 && running) await new Promise((resolve) => setTimeout(resolve, linger));
        }),
      onError: (error) => quietly(error, `projection batch failed (${group.name}); retrying`),
    });
    subscriptions.set(group.name, { stop: async () => { clearTimeout(flushTimer); await subscription.stop(); } });
  }

  function resubscribe(group: ProjectionGroup, from: Position): void {
    const old = subscriptions.get(group.name);
    subscriptions.delete(group.name);
    // stop() waits for the running batch, which is the one that called us: do not await it here.
    void old?.stop();
    if (running && leader) follow(group, from);
  }

  async function stopLanes(): Promise<void> {
    const old = [...subscriptions.values()];
    subscriptions.clear();
    await Promise.all(old.map((s) => s.stop()));
  }

  async function tryLead(): Promise<void> {
    if (!running) return;
    let client: pg.Client | undefined;
    try {
      client = new pg.Client(database.clientConfig(`${database.applicationName}-lock`));
      client.on('error', () => {});
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(1262, $1) AS locked', [LEADER_LOCK]);
      if (!rows[0]?.locked || !running) {
        await client.end();
        schedule();
        return;
      }
      const held = client;
      lockClient = held;
      leader = true;
      held.on('end', () => void lostLead(held));
      held.on('error', () => void lostLead(held));
      logger.info('projector: leading');
      const checkpoints = await ensureCheckpoints(database.rm, groups);
      for (const group of groups) follow(group, checkpoints.get(group.name)!);
    } catch (error) {
      quietly(error, 'projector: could not take the lead');
      // The lock lives as long as its connection: give it up, or this node would stand by behind itself.
      if (client && lockClient === client) await lostLead(client);
      else {
        await client?.end().catch(() => {});
        schedule();
      }
    }
  }

  async function lostLead(client: pg.Client | undefined): Promise<void> {
    if (!leader || lockClient !== client) return;
    leader = false;
    lockClient = undefined;
    client?.end().catch(() => {});
    await stopLanes();
    if (running) {
      logger.warn('projector: lost the lead; standing by');
      schedule();
    }
  }

  function schedule(): void {
    if (!running) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => void tryLead(), retryMs);
  }

  return {
    start() {
      if (running) return;
      running = true;
      void tryLead();
    },
    async stop() {
      running = false;
      clearTimeout(retryTimer);
      await stopLanes();
      leader = false;
      const client = lockClient;
      lockClient = undefined;
      await client?.end().catch(() => {});
    },
    isLeader: () => leader,
  };
}
