import pg from 'pg';
import { type CompiledQuery, type Kysely, type RawBuilder, type Transaction, sql } from 'kysely';
import type { ReadModelDatabase } from '../src/db/schema.ts';
import { type Position, type RecordedEvent, START, comparePositions } from '../src/eventstore/port.ts';
import { ChangeSet } from './changes.ts';
import { type LaneName, PROJECTION_GROUPS, type ProjectionGroup } from './index.ts';
import type { KnownEvent } from './projection.ts';
import { streamEntityId } from './projection.ts';
import { compileSegments, executeAll } from './statements.ts';
import { inlineParameters } from '../src/db/inline.ts';

export const PROJECTION_CHANNEL = 'keyledger_projection';
/**
 * Advisory lock keys (namespace 1262), one per lane: a lane's batches hold its key while they
 * run, a rebuild's swap takes every key to pause them all. Taken before the batch's first write
 * (before it has a transaction id), so a lane waiting here holds back no event reader.
 */
export function laneLock(lane: LaneName): number {
  return 20 + PROJECTION_GROUPS.findIndex((g) => g.name === lane);
}

/** What a committed batch of one lane changed; sent to every node with NOTIFY. */
export interface ProjectionChange {
  readonly lane: LaneName;
  readonly position: Position;
  readonly clientIds: readonly string[];
  readonly organisationIds: readonly string[];
  /** every cached policy is stale (rebuild swapped the read models) */
  readonly all: boolean;
}

export function encodeChange(change: ProjectionChange): string {
  const payload = JSON.stringify({
    l: change.lane,
    c: change.position.commit.toString(),
    p: change.position.prepare.toString(),
    clients: change.clientIds,
    orgs: change.organisationIds,
    all: change.all,
  });
  // NOTIFY payloads are limited to 8000 bytes: past that, tell everyone to drop everything.
  if (Buffer.byteLength(payload) < 7_900) return payload;
  return JSON.stringify({ l: change.lane, c: change.position.commit.toString(), p: change.position.prepare.toString(), clients: [], orgs: [], all: true });
}

export function decodeChange(payload: string): ProjectionChange | undefined {
  try {
    const v = JSON.parse(payload) as { l: LaneName; c: string; p: string; clients: string[]; orgs: string[]; all: boolean };
    if (!PROJECTION_GROUPS.some((g) => g.name === v.l)) return undefined;
    return { lane: v.l, position: { commit: BigInt(v.c), prepare: BigInt(v.p) }, clientIds: v.clients, organisationIds: v.orgs, all: v.all };
  } catch {
    return undefined;
  }
}

export class CheckpointMoved extends Error {
  constructor(readonly actual: Position) {
    super('the stored checkpoint moved (a rebuild swapped the read models)');
  }
}

const toPosition = (row: { commit_position: string; prepare_position: string }): Position => ({
  commit: BigInt(row.commit_position),
  prepare: BigInt(row.prepare_position),
});

/** Every lane's checkpoint; a lane without a row is at START. */
export async function readCheckpoints(db: Kysely<ReadModelDatabase>): Promise<Map<LaneName, Position>> {
  const rows = await db.selectFrom('checkpoints').select(['projection', 'commit_position', 'prepare_position']).execute();
  const out = new Map<LaneName, Position>();
  for (const group of PROJECTION_GROUPS) {
    const row = rows.find((r) => r.projection === group.name);
    out.set(group.name, row ? toPosition(row) : START);
  }
  return out;
}

/** The statements that bring `group`'s read models up to `events` (unqualified names), `tail` riding on the last. */
export function buildStatements(db: Kysely<any>, events: readonly RecordedEvent[], group: ProjectionGroup, tail?: RawBuilder<unknown>): CompiledQuery[] {
  const changes = new ChangeSet();
  for (const event of events) {
    if (!group.projects(event.stream)) continue;
    for (const projection of group.projections) projection.project(event as KnownEvent, changes);
  }
  const projected = events.filter((event) => group.projects(event.stream)) as unknown as KnownEvent[];
  const after = group.projections.flatMap((projection) => projection.afterBatch?.(projected) ?? []);
  if (after.length === 0) return compileSegments(db, changes.segments, tail);
  // the NOTIFY rides on the last statement: after these, still inside the batch's transaction
  return [...compileSegments(db, changes.segments), ...after.map((statement) => statement.compile(db)), ...(tail ? [tail.compile(db)] : [])];
}

export function checkpointStatement(db: Kysely<any>, lane: LaneName, position: Position): CompiledQuery {
  const commit = position.commit.toString();
  const prepare = position.prepare.toString();
  return sql`INSERT INTO checkpoints (projection, commit_position, prepare_position) VALUES (${lane}, ${commit}, ${prepare})
    ON CONFLICT (projection) DO UPDATE SET commit_position = excluded.commit_position, prepare_position = excluded.prepare_position`.compile(db);
}

export function changeOf(lane: LaneName, position: Position, events: readonly RecordedEvent[]): ProjectionChange {
  const clientIds = new Set<string>();
  const organisationIds = new Set<string>();
  for (const e of events) {
    const clientId = streamEntityId(e.stream, 'client');
    if (clientId) clientIds.add(clientId);
    const organisationId = streamEntityId(e.stream, 'organisation');
    if (organisationId) organisationIds.add(organisationId);
  }
  return { lane, position, clientIds: [...clientIds], organisationIds: [...organisationIds], all: false };
}

/** Sets the transaction's search_path to the read-model schema the statements are meant for. */
export async function useSchema(trx: Transaction<any>, schema: string): Promise<void> {
  await sql`SELECT set_config('search_path', ${`"${schema}", public`}, true)`.execute(trx);
}

/**
 * Applies events to every group's read models in `schema` inside `trx`, checkpoints included
 * (a rebuild's catch-up before its swap). Events at or before a group's checkpoint are skipped
 * for that group, so a replay changes nothing.
 */
export async function applyEvents(trx: Transaction<any>, schema: string, events: readonly RecordedEvent[]): Promise<void> {
  await useSchema(trx, schema);
  const checkpoints = await readCheckpoints(trx as Kysely<ReadModelDatabase>);
  for (const group of PROJECTION_GROUPS) {
    const current = checkpoints.get(group.name) ?? START;
    const fresh = events.filter((e) => comparePositions(e.position, current) > 0);
    if (fresh.length === 0) continue;
    await executeAll(trx, [...buildStatements(trx, fresh, group), checkpointStatement(trx, group.name, fresh[fresh.length - 1]!.position)]);
  }
}

/** SQLSTATE of "the stored checkpoint is not the one this batch follows" (raised by the batch itself). */
const CHECKPOINT_MOVED = 'KL001';

/**
 * One batch of one lane, in one transaction on one connection, sent as one simple query (one
 * round trip): BEGIN, the lane's batch lock, the schema, the checkpoint's compare-and-set (which
 * raises when the stored checkpoint is not `expected`), the set-based statements (the last one
 * carries the NOTIFY), COMMIT. Parameters are written in as literals; a batch with a parameter of
 * another kind takes one round trip per statement instead. Throws CheckpointMoved when the stored
 * checkpoint is not `expected` (a rebuild swapped the read models).
 */
export async function projectBatch(
  database: { pool: pg.Pool; rmRaw: Kysely<ReadModelDatabase> },
  schema: string,
  group: ProjectionGroup,
  events: readonly RecordedEvent[],
  expected: Position,
  /** the checkpoint to write (default: the last event's); past `events` when the lane skipped some */
  to?: Position,
): Promise<ProjectionChange | undefined> {
  const fresh = events.filter((e) => comparePositions(e.position, expected) > 0);
  const position = to ?? fresh[fresh.length - 1]?.position;
  if (!position || comparePositions(position, expected) <= 0) return undefined;
  const change = changeOf(group.name, position, group.invalidatesPolicies ? fresh : []);
  const notify = sql`SELECT pg_notify(${PROJECTION_CHANNEL}, ${encodeChange(change)})`;
  const statements = buildStatements(database.rmRaw, fresh, group, notify);
  // Positions are bigints and the lane a name of ours: written in as literals, nothing else is.
  const lane = pg.escapeLiteral(group.name);
  const opening = [
    'BEGIN',
    `SELECT pg_advisory_xact_lock(1262, ${laneLock(group.name)})`,
    `SELECT set_config('search_path', ${pg.escapeLiteral(`"${schema}", public`)}, true)`,
    `DO $kl$ BEGIN
       UPDATE checkpoints SET commit_position = ${position.commit}, prepare_position = ${position.prepare}
        WHERE projection = ${lane} AND commit_position = ${expected.commit} AND prepare_position = ${expected.prepare};
       IF NOT FOUND THEN RAISE EXCEPTION 'the checkpoint moved' USING ERRCODE = '${CHECKPOINT_MOVED}'; END IF;
     END $kl$`,
  ];
  const inlined = statements.map(inlineParameters);
  const client = await database.pool.connect();
  let open = true;
  try {
    try {
      if (inlined.every((text) => text !== undefined)) {
        await client.query([...opening, ...inlined, 'COMMIT'].join(';\n'));
      } else {
        await client.query(opening.join(';\n'));
        for (const statement of statements) await client.query(statement.sql, statement.parameters as unknown[]);
        await client.query('COMMIT');
      }
      open = false;
    } catch (error) {
      if ((error as { code?: string }).code !== CHECKPOINT_MOVED) throw error;
      await client.query('ROLLBACK');
      open = false;
      const { rows } = await client.query<{ commit_position: string; prepare_position: string }>(
        // rolled back: the schema set for the transaction is gone with it
        `SELECT commit_position, prepare_position FROM ${pg.escapeIdentifier(schema)}.checkpoints WHERE projection = $1`,
        [group.name],
      );
      throw new CheckpointMoved(rows[0] ? toPosition(rows[0]) : START);
    }
    return change;
  } catch (error) {
    if (open) await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Makes sure every lane has a checkpoint row (a new group starts at START), and returns them all. */
export async function ensureCheckpoints(db: Kysely<ReadModelDatabase>, groups: readonly ProjectionGroup[]): Promise<Map<LaneName, Position>> {
  for (const group of groups) {
    await db
      .insertInto('checkpoints')
      .values({ projection: group.name, commit_position: START.commit.toString(), prepare_position: START.prepare.toString() })
      .onConflict((oc) => oc.column('projection').doNothing())
      .execute();
  }
  return await readCheckpoints(db);
}
