import pg from 'pg';
import { type CompiledQuery, type Kysely, type Transaction, sql } from 'kysely';
import type { Logger } from 'pino';
import type { ReadModelDatabase } from '../src/db/schema.ts';
import { READ_MODEL_SCHEMA } from '../src/db/schema.ts';
import type { Database } from '../src/db/database.ts';
import { type EventStore, type Position, type RecordedEvent, type Subscription, START, comparePositions } from '../src/eventstore/port.ts';
import type { KnownEvent, Projection } from './projection.ts';
import { streamEntityId } from './projection.ts';
import { BATCH_PROJECTIONS, READ_MODEL_PROJECTIONS } from './index.ts';
import { executeInOrder } from './statements.ts';
import type { ProjectionBatchStats } from '../src/metrics/metrics.ts';

export const CHECKPOINT_NAME = 'read_models';
export const PROJECTION_CHANNEL = 'keyledger_projection';
/** advisory lock keys (namespace 1262): 1 = the active projector, 2 = one batch at a time */
const LEADER_LOCK = 1;
const BATCH_LOCK = 2;

/** What a committed batch changed; sent to every node with NOTIFY. */
export interface ProjectionChange {
  readonly position: Position;
  readonly clientIds: readonly string[];
  readonly organisationIds: readonly string[];
  /** every cached policy is stale (rebuild swapped the read models) */
  readonly all: boolean;
}

export function encodeChange(change: ProjectionChange): string {
  const payload = JSON.stringify({
    c: change.position.commit.toString(),
    p: change.position.prepare.toString(),
    clients: change.clientIds,
    orgs: change.organisationIds,
    all: change.all,
  });
  // NOTIFY payloads are limited to 8000 bytes: past that, tell everyone to drop everything.
  if (Buffer.byteLength(payload) < 7_900) return payload;
  return JSON.stringify({ c: change.position.commit.toString(), p: change.position.prepare.toString(), clients: [], orgs: [], all: true });
}

export function decodeChange(payload: string): ProjectionChange | undefined {
  try {
    const v = JSON.parse(payload) as { c: string; p: string; clients: string[]; orgs: string[]; all: boolean };
    return {
      position: { commit: BigInt(v.c), prepare: BigInt(v.p) },
      clientIds: v.clients,
      organisationIds: v.orgs,
      all: v.all,
    };
  } catch {
    return undefined;
  }
}

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

export class CheckpointMoved extends Error {
  constructor(readonly actual: Position) {
    super('the stored checkpoint moved (a rebuild swapped the read models)');
  }
}

export async function readCheckpoint(db: Kysely<ReadModelDatabase>): Promise<Position> {
  const row = await db
    .selectFrom('checkpoints')
    .select(['commit_position', 'prepare_position'])
    .where('projection', '=', CHECKPOINT_NAME)
    .executeTakeFirst();
  return row ? { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) } : START;
}

/**
 * Applies events to the read models in `schema` inside `trx`, checkpoint included. Events at or
 * before the stored checkpoint are skipped, so a replay changes nothing. Throws CheckpointMoved
 * when `expected` is given and the stored checkpoint is elsewhere.
 */
export async function applyEvents(
  trx: Transaction<ReadModelDatabase>,
  schema: string,
  events: readonly RecordedEvent[],
  options: {
    expected?: Position;
    projections?: readonly Projection[];
    /** the caller already set the search_path (with its lock, in one round trip) */
    schemaSet?: boolean;
    /** statements to run after the read models, in the same round trip */
    then?: (applied: RecordedEvent[], position: Position) => CompiledQuery[];
  } = {},
): Promise<{ position: Position; applied: RecordedEvent[] } | undefined> {
  // Unqualified names, resolved by the transaction's search_path: cheaper to build than a
  // schema-rewriting plugin, and the same statements serve the live schema and a rebuild's.
  if (!options.schemaSet) await useSchema(trx, schema);
  const db: Kysely<ReadModelDatabase> = trx;
  const row = await db
    .selectFrom('checkpoints')
    .select(['commit_position', 'prepare_position'])
    .where('projection', '=', CHECKPOINT_NAME)
    .forUpdate()
    .executeTakeFirst();
  const current = row ? { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) } : START;
  if (options.expected && comparePositions(current, options.expected) !== 0) throw new CheckpointMoved(current);
  const fresh = events.filter((e) => comparePositions(e.position, current) > 0);
  if (fresh.length === 0) return undefined;
  const position = fresh[fresh.length - 1]!.position;
  await executeInOrder(trx, [...buildStatements(db, fresh, options.projections), ...(options.then?.(fresh, position) ?? [])]);
  return { position, applied: fresh };
}

/** Sets the transaction's search_path to the read-model schema the statements are meant for. */
export async function useSchema(trx: Transaction<ReadModelDatabase>, schema: string): Promise<void> {
  await sql`SELECT set_config('search_path', ${`"${schema}", public`}, true)`.execute(trx);
}

/** Every statement that brings the read models and the checkpoint up to `events` (unqualified names). */
export function buildStatements(
  db: Kysely<ReadModelDatabase>,
  events: readonly RecordedEvent[],
  projections: readonly Projection[] = READ_MODEL_PROJECTIONS,
  options: { checkpoint?: boolean } = {},
): CompiledQuery[] {
  const statements: CompiledQuery[] = [];
  for (const event of events) {
    for (const projection of projections) {
      for (const statement of projection.project(event as KnownEvent, db)) statements.push(statement.compile());
    }
  }
  for (const projection of BATCH_PROJECTIONS) {
    for (const statement of projection.projectBatch(events as KnownEvent[], db)) statements.push(statement.compile());
  }
  if (options.checkpoint !== false) statements.push(checkpointStatement(db, events[events.length - 1]!.position));
  return statements;
}

export function checkpointStatement(db: Kysely<ReadModelDatabase>, position: Position): CompiledQuery {
  return db
    .insertInto('checkpoints')
    .values({ projection: CHECKPOINT_NAME, commit_position: position.commit.toString(), prepare_position: position.prepare.toString() })
    .onConflict((oc) =>
      oc.column('projection').doUpdateSet({ commit_position: position.commit.toString(), prepare_position: position.prepare.toString() }),
    )
    .compile();
}

export function changeOf(position: Position, events: readonly RecordedEvent[]): ProjectionChange {
  const clientIds = new Set<string>();
  const organisationIds = new Set<string>();
  for (const e of events) {
    const clientId = streamEntityId(e.stream, 'client');
    if (clientId) clientIds.add(clientId);
    const organisationId = streamEntityId(e.stream, 'organisation');
    if (organisationId) organisationIds.add(organisationId);
  }
  return { position, clientIds: [...clientIds], organisationIds: [...organisationIds], all: false };
}

/** One batch, in one transaction: the batch lock, the read models, the checkpoint and the NOTIFY. */
export async function projectBatch(
  rmRaw: Kysely<ReadModelDatabase>,
  events: readonly RecordedEvent[],
  expected: Position,
): Promise<ProjectionChange | undefined> {
  // Round trips: BEGIN; lock + search_path; checkpoint; read models + checkpoint + NOTIFY; COMMIT.
  return await rmRaw.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(1262, ${BATCH_LOCK}), set_config('search_path', ${`"${READ_MODEL_SCHEMA}", public`}, true)`.execute(trx);
    let change: ProjectionChange | undefined;
    const result = await applyEvents(trx, READ_MODEL_SCHEMA, events, {
      expected,
      schemaSet: true,
      then: (applied, position) => {
        change = changeOf(position, applied);
        return [sql`SELECT pg_notify(${PROJECTION_CHANNEL}, ${encodeChange(change)})`.compile(trx)];
      },
    });
    return result ? change : undefined;
  });
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
  readonly onBatch?: (change: ProjectionChange) => void;
  /** figures of each committed batch, for the metrics (src/metrics) */
  readonly onStats?: (stats: ProjectionBatchStats) => void;
  readonly standbyRetryMs?: number;
}

/**
 * The projector: the node holding the leader advisory lock subscribes from the stored
 * checkpoint and projects; the others stand by and retry. Losing the lock connection stops
 * projecting at once (the lock is gone with it).
 */
export function createProjector(options: ProjectorOptions): Projector {
  const { database, store, logger } = options;
  const retryMs = options.standbyRetryMs ?? 1_000;
  let running = false;
  let leader = false;
  let lockClient: pg.Client | undefined;
  let subscription: Subscription | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  // While the database is away every retry fails the same way: one warning a minute says so.
  let lastWarning = 0;
  const quietly = (error: unknown, message: string) => {
    const now = Date.now();
    const loud = now - lastWarning > 60_000;
    if (loud) lastWarning = now;
    logger[loud ? 'warn' : 'debug']({ err: error }, message);
  };

  async function follow(from: Position): Promise<void> {
    let expected = from;
    subscription = store.subscribeAll(from, {
      onEvents: async (events) => {
        try {
          const started = performance.now();
          const change = await projectBatch(database.rmRaw, events, expected);
          expected = events[events.length - 1]!.position;
          if (change) options.onBatch?.(change);
          if (change && options.onStats) {
            const newest = Date.parse(events[events.length - 1]!.metadata.at);
            options.onStats({
              group: CHECKPOINT_NAME,
              events: events.length,
              lagSeconds: Number.isFinite(newest) ? (Date.now() - newest) / 1000 : 0,
              seconds: (performance.now() - started) / 1000,
            });
          }
        } catch (error) {
          if (!(error instanceof CheckpointMoved)) throw error;
          logger.info({ checkpoint: error.actual }, 'checkpoint moved; resubscribing');
          void resubscribe(error.actual);
        }
      },
      onError: (error) => quietly(error, 'projection batch failed; retrying'),
    });
  }

  async function resubscribe(from: Position): Promise<void> {
    const old = subscription;
    subscription = undefined;
    // stop() waits for the running batch, which is the one that called us: do not await it here.
    void old?.stop();
    if (running && leader) await follow(from);
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
      await follow(await readCheckpoint(database.rm));
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
    const old = subscription;
    subscription = undefined;
    await old?.stop();
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
      const old = subscription;
      subscription = undefined;
      await old?.stop();
      leader = false;
      const client = lockClient;
      lockClient = undefined;
      await client?.end().catch(() => {});
    },
    isLeader: () => leader,
  };
}
