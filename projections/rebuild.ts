import { sql } from 'kysely';
import type { Database } from '../src/db/database.ts';
import { migrateReadModels } from '../src/db/database.ts';
import { READ_MODEL_SCHEMA } from '../src/db/schema.ts';
import { type EventStore, type Position, type RecordedEvent, START } from '../src/eventstore/port.ts';
import { crc32 } from 'node:zlib';
import { PROJECTION_CHANNEL, laneLock, applyEvents, buildStatements, checkpointStatement, encodeChange, useSchema } from './apply.ts';
import { PROJECTION_GROUPS } from './index.ts';
import { executeAll } from './statements.ts';

export interface RebuildProgress {
  readonly done: number;
  /** known for the Postgres event log; undefined for EventStoreDB */
  readonly total: number | undefined;
}

export interface RebuildResult {
  readonly events: number;
  readonly position: Position;
  readonly seconds: number;
}

const PAGE = 5_000;
/** transactions applying one page side by side */
const LANES = 4;

/**
 * Replays every event into a fresh schema beside the live one, then — holding the batch lock
 * so the live projector pauses — applies what arrived meanwhile and swaps the schemas in one
 * transaction. The live system serves from the old tables until that commit.
 */
export async function rebuildReadModels(
  database: Database,
  store: EventStore,
  options: { onProgress?: (p: RebuildProgress) => void; swap?: boolean; schema?: string } = {},
): Promise<RebuildResult> {
  const started = performance.now();
  const target = options.schema ?? `rm_rebuild_${Date.now()}`;
  await sql`DROP SCHEMA IF EXISTS ${sql.id(target)} CASCADE`.execute(database.db);
  await migrateReadModels(database.db, target);
  // Secondary indexes are built once at the end, not row by row: the same definitions, faster.
  // (Primary keys and unique indexes stay: replays and ON CONFLICT rely on them.)
  const deferred = await sql<{ indexname: string; indexdef: string }>`
    SELECT i.indexname, i.indexdef FROM pg_indexes i
      JOIN pg_class c ON c.relname = i.indexname
      JOIN pg_index x ON x.indexrelid = c.oid
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = i.schemaname
     WHERE i.schemaname = ${target} AND NOT x.indisunique AND NOT x.indisprimary`.execute(database.db);
  for (const index of deferred.rows) await sql`DROP INDEX ${sql.id(target, index.indexname)}`.execute(database.db);

  const total =
    store.kind === 'postgres'
      ? Number((await sql<{ n: string }>`SELECT count(*) AS n FROM events`.execute(database.db)).rows[0]?.n ?? 0)
      : undefined;
  let done = 0;
  let position: Position = START;
  options.onProgress?.({ done, total });

  // A pipeline: while Postgres applies one page, the next is read and its statements built.
  // Each page is applied in LANES transactions side by side, one per group of streams: every
  // read-model row belongs to one stream, so streams in different lanes never touch the same
  // row, and each stream's events stay in order within its lane. The checkpoint is written once.
  let reading = store.readAll(position, PAGE);
  let applying: Promise<unknown> = Promise.resolve();
  for (;;) {
    const events = await reading;
    if (events.length === 0) break;
    position = events[events.length - 1]!.position;
    reading = store.readAll(position, PAGE);
    const lanes = Array.from({ length: LANES }, () => [] as RecordedEvent[]);
    for (const event of events) lanes[crc32(event.stream) % LANES]!.push(event);
    // the same set-based statements as the live projector, every group's
    const work = lanes
      .filter((lane) => lane.length > 0)
      .map((lane) => PROJECTION_GROUPS.flatMap((group) => buildStatements(database.rmRaw, lane, group)));
    await applying;
    applying = Promise.all(
      work.map((statements) =>
        database.rmRaw.transaction().execute(async (trx) => {
          // Nothing reads the new schema until the swap, which commits durably (and a crash
          // before it means rebuilding anew): a page need not wait for its WAL flush.
          await sql`SELECT set_config('search_path', ${`"${target}", public`}, true), set_config('synchronous_commit', 'off', true)`.execute(trx);
          await executeAll(trx, statements);
        }),
      ),
    );
    done += events.length;
    const reached = done;
    applying.then(
      () => options.onProgress?.({ done: reached, total: total === undefined ? undefined : Math.max(total, reached) }),
      () => {},
    );
  }
  await applying;
  // every lane's checkpoint, even at START: the live lanes compare-and-set it after the swap
  await database.rmRaw.transaction().execute(async (trx) => {
    await useSchema(trx, target);
    // statements over several streams' rows (an erasure's scrub), now that every stream is in
    for (const group of PROJECTION_GROUPS) for (const projection of group.projections) for (const statement of projection.afterRebuild?.() ?? []) await statement.execute(trx);
    await executeAll(trx, PROJECTION_GROUPS.map((group) => checkpointStatement(trx, group.name, position)));
  });
  for (const index of deferred.rows) await sql.raw(index.indexdef).execute(database.db);

  if (options.swap === false) return { events: done, position, seconds: (performance.now() - started) / 1000 };

  await database.rmRaw.transaction().execute(async (trx) => {
    for (const group of PROJECTION_GROUPS) await sql`SELECT pg_advisory_xact_lock(1262, ${laneLock(group.name)})`.execute(trx);
    for (;;) {
      const events = await store.readAll(position, PAGE);
      if (events.length === 0) break;
      await applyEvents(trx, target, events);
      position = events[events.length - 1]!.position;
      done += events.length;
    }
    const retired = `rm_retired_${Date.now()}`;
    await sql`ALTER SCHEMA ${sql.id(READ_MODEL_SCHEMA)} RENAME TO ${sql.id(retired)}`.execute(trx);
    await sql`ALTER SCHEMA ${sql.id(target)} RENAME TO ${sql.id(READ_MODEL_SCHEMA)}`.execute(trx);
    await sql`DROP SCHEMA ${sql.id(retired)} CASCADE`.execute(trx);
    for (const group of PROJECTION_GROUPS) {
      const change = encodeChange({ lane: group.name, position, clientIds: [], organisationIds: [], all: true });
      await sql`SELECT pg_notify(${PROJECTION_CHANNEL}, ${change})`.execute(trx);
    }
  });
  options.onProgress?.({ done, total: done });
  return { events: done, position, seconds: (performance.now() - started) / 1000 };
}
