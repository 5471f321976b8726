/** Helpers shared by the sections of `npm run bench` (bench/core.ts). */
import { readFileSync, readdirSync } from 'node:fs';
import pg from 'pg';
import { emitFigures } from './figures.ts';

/** One row of the final summary. `met` is undefined when the section failed. */
export interface Figure {
  readonly metric: string;
  readonly figure: string;
  readonly target: string;
  readonly met?: boolean;
}

export interface BenchOptions {
  readonly quick: boolean;
  /** measured seconds per timed run */
  readonly seconds: number;
  /** warm-up seconds before each timed run */
  readonly warmup: number;
  /** section 3: commands per second */
  readonly rate: number;
  /** the admin (`postgres` database) connection string of the embedded server */
  readonly adminUrl: string;
}

/** Marks the commands of a measured window in their data (bench/load.ts), so the server side can tell them apart. */
export const MEASURED = 'measured';

/** A fresh, empty database on the bench server; returns its connection string. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The q-quantile (0..1) of the samples, nearest rank; NaN when empty. */
export function quantile(samples: readonly number[] | Float64Array, q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const ms = (n: number) => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms` : 'n/a');

export interface TimedRun {
  readonly ops: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly errors: number;
  readonly firstError?: unknown;
  /** latency of one operation, ms */
  readonly p50: number;
  readonly p99: number;
  /** every counted operation's latency, ms */
  readonly latencies: number[];
}

/** Several timed runs of the same thing as one. */
export function mergeRuns(runs: readonly TimedRun[]): TimedRun {
  const latencies = runs.flatMap((r) => r.latencies);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  const errors = runs.reduce((s, r) => s + r.errors, 0);
  const firstError = runs.find((r) => r.errors > 0)?.firstError;
  return {
    ops: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    latencies,
  };
}

/**
 * `writers` concurrent loops calling `op` back to back: first for `warmup` seconds (not
 * counted), then for `seconds` seconds. An operation counts if it completed inside the window.
 */
export async function closedLoop(
  writers: number,
  warmup: number,
  seconds: number,
  op: (writer: number, i: number) => Promise<unknown>,
): Promise<TimedRun> {
  const started = performance.now();
  const windowStart = started + warmup * 1000;
  const windowEnd = windowStart + seconds * 1000;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: unknown;
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let i = 0; performance.now() < windowEnd; i++) {
        const t = performance.now();
        try {
          await op(writer, i);
        } catch (error) {
          errors += 1;
          firstError ??= error;
          if (errors > 100) throw error;
          continue;
        }
        const done = performance.now();
        if (done >= windowStart && done <= windowEnd) latencies.push(done - t);
      }
    }),
  );
  return {
    ops: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    errors,
    firstError,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    latencies,
  };
}

/**
 * Counts the statements this process sends to Postgres (every pg.Client, pools included), by
 * their first words, until `stop()`; for "where does the time go" lines.
 */
export function countQueries(): { stop(): Map<string, number> } {
  const counts = new Map<string, number>();
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = prototype.query;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0] as string | { text?: string } | undefined;
    const text = typeof q === 'string' ? q : (q?.text ?? '?');
    const flat = text.replace(/\s+/g, ' ').trim();
    const key = flat.length > 70 ? `${flat.slice(0, 70)}…${/ for update$/i.test(flat) ? ' for update' : ''}` : flat;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return original.apply(this, args);
  };
  return {
    /** idempotent: restores pg and returns the counts so far */
    stop() {
      if (prototype.query !== original) prototype.query = original;
      return counts;
    },
  };
}

/** "N queries per command: …" with the most frequent statements. */
export function describeQueries(counts: Map<string, number>, commands: number, top = 6): string {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const lines = [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([text, n]) => `      ${(n / commands).toFixed(2).padStart(6)}  ${text}`);
  return `  Postgres statements per command: ${(total / commands).toFixed(1)}; the most frequent:\n${lines.join('\n')}`;
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/** The first number in a figure's text (`2,794`, `1.92×`, `84.0 ms / 211 ms`), or NaN. */
const firstNumber = (text: string) => Number((/-?[\d,]*\.?\d+/.exec(text)?.[0] ?? 'NaN').replaceAll(',', ''));

export function printSummary(figures: readonly Figure[]): void {
  emitFigures(
    'bench',
    figures.map((f) => ({
      name: f.metric,
      value: firstNumber(f.figure),
      unit: f.figure.replace(/^-?[\d,]*\.?\d+\s*/, '').trim(),
      ...(f.target ? { target: f.target } : {}),
      ...(f.met === undefined ? {} : { met: f.met }),
    })),
  );
  const rows = figures.map((f) => [f.metric, f.figure, f.target, f.met === undefined ? '' : f.met ? 'met' : 'MISSED']);
  const head = ['metric', 'figure', 'target', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  console.log(`\n${line(head)}\n${widths.map((w) => '─'.repeat(w)).join('  ')}`);
  for (const r of rows) console.log(line(r));
}

/**
 * CPU time (ms) of every `postgres` process on the machine now (user + system, from /proc): the
 * difference over a section is what the database spent on it, beside `process.cpuUsage()` for
 * Node. Backends that exit within the section take their time with them; pools keep theirs open.
 */
export function postgresCpuMs(): number {
  const tick = 10; // USER_HZ is 100 on Linux
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * tick;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

/** Where a section's time went: Node's CPU and Postgres's CPU as shares of its wall time. */
export function cpuSplit(wallMs: number, nodeCpu: NodeJS.CpuUsage, postgresMs: number): string {
  const nodeMs = (nodeCpu.user + nodeCpu.system) / 1000;
  const pct = (x: number) => `${((100 * x) / wallMs).toFixed(0)} %`;
  return `CPU over ${(wallMs / 1000).toFixed(1)} s: Node (all threads) ${pct(nodeMs)} of one core, Postgres ${pct(postgresMs)} of one core (2 cores = 200 %)`;
}
