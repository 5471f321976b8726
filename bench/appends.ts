/**
 * Section 1: single-event appends per second, 8 concurrent writers over 200 streams, on the
 * same embedded Postgres, each store in its own fresh database with a pool of 10 connections:
 * our Postgres event log, Emmett's PostgreSQL event store, and a bare INSERT (the floor). Each
 * writer owns its streams (no two writers race on one), so neither store sees conflicts.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrate, openDatabase } from '../src/db/database.ts';
import { createPostgresEventStore } from '../src/eventstore/postgres.ts';
import type { EventMetadata } from '../src/eventstore/port.ts';
import { loadEmmett } from './emmett.ts';
import { type BenchOptions, type Figure, type TimedRun, closedLoop, createDatabase, int, mergeRuns, ms, postgresCpuMs } from './lib.ts';

const WRITERS = 8;
const STREAMS = 200;
const POOL = 10;

/** Writer w owns streams w, w+8, w+16, …: writers never race on one stream, in either store. */
const streamOf = (writer: number, i: number) => `bench-${(writer + WRITERS * i) % STREAMS}`;

function metadata(): EventMetadata {
  const id = randomUUID();
  return { actor: 'bench', correlationId: id, causationId: id, requestId: id, ip: null, userAgent: null, at: new Date().toISOString() };
}
const data = (i: number) => ({ n: i, name: `Bench ${i}`, flag: true });

function report(label: string, run: TimedRun, rounds: readonly TimedRun[]): void {
  const errors = run.errors ? `, ${run.errors} errors (first: ${run.firstError instanceof Error ? run.firstError.message : String(run.firstError)})` : '';
  const each = rounds.map((r) => int(r.perSecond)).join(' / ');
  console.log(`  ${label.padEnd(26)} ${int(run.perSecond).padStart(7)} appends/s   p50 ${ms(run.p50)}  p99 ${ms(run.p99)}   (rounds ${each}${errors})`);
}

type Op = (writer: number, i: number) => Promise<unknown>;
interface Opened {
  readonly op: Op;
  close(): Promise<void>;
}

async function ours(options: BenchOptions): Promise<Opened> {
  const database = openDatabase(await createDatabase(options.adminUrl, 'bench_appends_ours'), { max: POOL });
  try {
    await migrate(database);
  } catch (error) {
    await database.destroy();
    throw error;
  }
  const store = createPostgresEventStore(database.pool);
  return {
    op: (w, i) => store.append(streamOf(w, i), [{ id: randomUUID(), type: 'Bench', data: data(i), metadata: metadata() }], { expectedRevision: 'any' }),
    async close() {
      await store.close();
      await database.destroy();
    },
  };
}

async function emmett(options: BenchOptions): Promise<Opened> {
  const { getPostgreSQLEventStore } = await loadEmmett();
  // Emmett's default pool is a pg.Pool of pg's default size, 10: the same as ours.
  const store = getPostgreSQLEventStore(await createDatabase(options.adminUrl, 'bench_appends_emmett'));
  try {
    await store.schema.migrate(); // it would migrate on first use; do it outside the timing
  } catch (error) {
    await store.close();
    throw error;
  }
  return {
    op: (w, i) => store.appendToStream(streamOf(w, i), [{ type: 'Bench', data: data(i), metadata: { ...metadata() } }]),
    close: () => store.close(),
  };
}

async function floor(options: BenchOptions): Promise<Opened> {
  const pool = new pg.Pool({ connectionString: await createDatabase(options.adminUrl, 'bench_appends_floor'), max: POOL });
  try {
    await pool.query(`CREATE TABLE floor (id bigserial PRIMARY KEY, stream text NOT NULL, data jsonb NOT NULL)`);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return {
    op: (w, i) => pool.query('INSERT INTO floor (stream, data) VALUES ($1, $2)', [streamOf(w, i), JSON.stringify(data(i))]),
    close: () => pool.end(),
  };
}

export async function appendsSection(options: BenchOptions): Promise<Figure[]> {
  // Alternating rounds (ours, Emmett, floor, ours, …) that add up to the time asked for, so a
  // disturbance on a shared machine does not land on one store only.
  const rounds = Math.max(2, Math.min(5, Math.floor(options.seconds / 2)));
  const slice = options.seconds / rounds;
  console.log(
    `\n1. Single-event appends, ${WRITERS} writers over ${STREAMS} streams, pool ${POOL}: ${options.warmup} s warm-up, then ${rounds} alternating rounds of ${slice} s each`,
  );
  const figures: Figure[] = [];
  const contenders = [
    { key: 'ours', label: 'Keyledger (kl_append)', open: ours },
    { key: 'emmett', label: 'Emmett PostgreSQL store', open: emmett },
    { key: 'floor', label: 'bare INSERT (floor)', open: floor },
  ] as const;
  // CPU per append, the writers' process (Node) and Postgres, over the measured runs (warm-up included)
  const opened = new Map<string, { opened: Opened; runs: TimedRun[]; failed?: unknown; nodeMs: number; postgresMs: number }>();
  for (const c of contenders) {
    try {
      opened.set(c.key, { opened: await c.open(options), runs: [], nodeMs: 0, postgresMs: 0 });
    } catch (error) {
      console.log(`  ${c.label.padEnd(26)} FAILED to start: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  for (let round = 0; round < rounds; round++) {
    for (const c of contenders) {
      const entry = opened.get(c.key);
      if (!entry || entry.failed) continue;
      try {
        const [nodeBefore, postgresBefore] = [process.cpuUsage(), postgresCpuMs()];
        entry.runs.push(await closedLoop(WRITERS, round === 0 ? options.warmup : 0, slice, entry.opened.op));
        const node = process.cpuUsage(nodeBefore);
        entry.nodeMs += (node.user + node.system) / 1000;
        entry.postgresMs += postgresCpuMs() - postgresBefore;
      } catch (error) {
        entry.failed = error;
        console.log(`  ${c.label.padEnd(26)} FAILED: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  const results: Partial<Record<(typeof contenders)[number]['key'], TimedRun>> = {};
  for (const c of contenders) {
    const entry = opened.get(c.key);
    if (!entry) continue;
    await entry.opened.close().catch(() => {});
    if (entry.failed || entry.runs.length === 0) continue;
    results[c.key] = mergeRuns(entry.runs);
    report(c.label, results[c.key]!, entry.runs);
    const appends = entry.runs.reduce((n, r) => n + r.ops, 0);
    console.log(`  ${''.padEnd(26)} CPU per append: Node ${((1000 * entry.nodeMs) / appends).toFixed(0)} µs, Postgres ${((1000 * entry.postgresMs) / appends).toFixed(0)} µs (warm-up included)`);
  }
  const { ours: o, emmett: e, floor: f } = results;
  if (o && e) console.log(`  ours / Emmett ${(o.perSecond / e.perSecond).toFixed(2)}×  (target ≥ 2.5×)`);
  if (o && f) console.log(`  ours / bare INSERT ${(o.perSecond / f.perSecond).toFixed(2)}  (target ≥ 0.6)`);
  figures.push({ metric: 'appends/s, ours', figure: o ? int(o.perSecond) : 'failed', target: '' });
  figures.push({ metric: 'appends/s, Emmett', figure: e ? int(e.perSecond) : 'failed', target: '' });
  figures.push({ metric: 'appends/s, bare INSERT', figure: f ? int(f.perSecond) : 'failed', target: '' });
  figures.push({
    metric: 'appends ours / Emmett',
    figure: o && e ? `${(o.perSecond / e.perSecond).toFixed(2)}×` : 'n/a',
    target: '≥ 2.5×',
    ...(o && e ? { met: o.perSecond / e.perSecond >= 2.5 } : {}),
  });
  figures.push({
    metric: 'appends ours / bare INSERT',
    figure: o && f ? `${(o.perSecond / f.perSecond).toFixed(2)}×` : 'n/a',
    target: '≥ 0.6×',
    ...(o && f ? { met: o.perSecond / f.perSecond >= 0.6 } : {}),
  });
  return figures;
}
