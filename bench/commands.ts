/**
 * Sections 2 and 3: the real app (createApp, LOG_LEVEL silent) on port 0 in a fresh database,
 * one organisation on the business plan with 20 clients, loaded over HTTP by bench/load.ts in
 * its own process.
 *   2. closed loop, 32 requests in flight: completed commands/s. A write answers only once the
 *      read models reached it, so this is HTTP → event → projected → answered.
 *   3. open loop at a steady rate (500 commands/s by default): the projection lag, measured inside the server
 *      from the append completing (wrapped store.append) to the projection watcher learning a
 *      checkpoint at or past its position (watcher.onChange, fired by the local projector
 *      right after its commit).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type App, createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { type Position, comparePositions } from '../src/eventstore/port.ts';
import { signUp } from '../test/support/http.ts';
import type { LoadPlan, LoadResult } from './load.ts';
import { timePhases } from './phases.ts';
import { type BenchOptions, type Figure, MEASURED, countQueries, cpuSplit, createDatabase, describeQueries, int, ms, postgresCpuMs, quantile } from './lib.ts';

const CLIENTS = 20;
const CONNECTIONS = 32;
const LOAD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'load.ts');

interface Running {
  readonly app: App;
  readonly base: string;
  readonly cookie: string;
  readonly clientIds: string[];
}

async function startApp(options: BenchOptions, database: string): Promise<Running> {
  const databaseUrl = await createDatabase(options.adminUrl, database);
  // a long bound on read-your-writes: on a loaded machine the setup's writes must not be answered unprojected
  const config = loadConfig({ LOG_LEVEL: 'silent', WRITE_WAIT_MS: '30000' });
  const app = await createApp({ config, databaseUrl, logger: createLogger({ level: 'silent' }) });
  try {
    const { port } = await app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    const { caller } = await signUp(base, { plan: 'business' });
    const clientIds: string[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const created = await caller.post('/manage/v1/clients', { name: `Bench client ${i}` });
      if (created.status !== 201) throw new Error(`creating a client answered ${created.status}: ${created.text}`);
      clientIds.push(created.body.clientId as string);
    }
    const cookie = [...caller.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return { app, base, cookie, clientIds };
  } catch (error) {
    await app.close();
    throw error;
  }
}

function runLoad(plan: LoadPlan): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', LOAD_SCRIPT, JSON.stringify(plan)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited ${code}: ${err.trim().slice(-2000)}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as LoadResult);
      } catch {
        reject(new Error(`load generator printed no result: ${out.slice(-500)} ${err.slice(-500)}`));
      }
    });
  });
}

const failures = (r: LoadResult) => (r.failed ? `, ${r.failed} failed (first: ${r.firstFailure ?? '?'})` : '');

export async function commandsSection(options: BenchOptions): Promise<Figure[]> {
  console.log(`\n2. End-to-end commands over HTTP: rename / add redirect URI across ${CLIENTS} clients, ${CONNECTIONS} in flight, ${options.warmup} s warm-up + ${options.seconds} s`);
  const running = await startApp(options, 'bench_commands');
  try {
    const counter = countQueries();
    const phases = timePhases(running.app);
    const [cpuBefore, postgresBefore, wallBefore] = [process.cpuUsage(), postgresCpuMs(), performance.now()];
    let split = '';
    let r: LoadResult;
    try {
      r = await runLoad({ mode: 'closed', base: running.base, cookie: running.cookie, clientIds: running.clientIds, connections: CONNECTIONS, warmup: options.warmup, seconds: options.seconds });
      const wall = performance.now() - wallBefore;
      split = `${cpuSplit(wall, process.cpuUsage(cpuBefore), postgresCpuMs() - postgresBefore)}, load generator ${((100 * (r.cpuMs ?? 0)) / wall).toFixed(0)} %`;
    } finally {
      phases.stop();
      counter.stop();
    }
    const queries = counter.stop();
    console.log(`  ${int(r.perSecond)} commands/s   p50 ${ms(r.p50)}  p99 ${ms(r.p99)}   (${int(r.ok)} answered 2xx${failures(r)})   target ≥ 0.15 × the bare-INSERT rate`);
    console.log(`  ${split}`);
    console.log(phases.report(r.allOk, r.p50));
    console.log(describeQueries(queries, r.allOk));
    return [
      { metric: 'commands/s end to end', figure: int(r.perSecond), target: '' },
      { metric: 'command latency p50 / p99', figure: `${ms(r.p50)} / ${ms(r.p99)}`, target: '' },
    ];
  } finally {
    await running.app.close();
  }
}

interface Sample {
  readonly position: Position;
  /** performance.now() when the append returned */
  readonly appended: number;
  readonly appendMs: number;
}

/** True for the appends of commands the load generator sent in its measured window. */
const measured = (events: readonly { data: unknown }[]) =>
  events.some((e) => {
    const { name, uri } = (e.data ?? {}) as { name?: unknown; uri?: unknown };
    return (typeof name === 'string' && name.includes(MEASURED)) || (typeof uri === 'string' && uri.includes(MEASURED));
  });

export async function lagSection(options: BenchOptions): Promise<Figure[]> {
  const rate = options.rate;
  console.log(`\n3. Projection lag at a steady ${rate} commands/s (open loop), ${options.warmup} s warm-up + ${options.seconds} s`);
  const running = await startApp(options, 'bench_lag');
  const { store, watcher } = running.app.ctx;
  const pending: Sample[] = [];
  const settled: { appended: number; lag: number; appendMs: number }[] = [];
  const settle = (now: number, position: Position) => {
    for (let i = pending.length - 1; i >= 0; i--) {
      const s = pending[i]!;
      if (comparePositions(position, s.position) >= 0) {
        settled.push({ appended: s.appended, lag: now - s.appended, appendMs: s.appendMs });
        pending.splice(i, 1);
      }
    }
  };
  const original = store.append;
  store.append = async (stream, events, opts) => {
    const started = performance.now();
    const result = await original.call(store, stream, events, opts);
    const appended = performance.now();
    if (!result.duplicate && measured(events)) {
      pending.push({ position: result.position, appended, appendMs: appended - started });
      // projected already (its batch committed before this promise resumed): lag 0
      settle(appended, watcher.position());
    }
    return result;
  };
  // the policy lane: what the access pipeline and the client pages read
  const unsubscribe = watcher.onChange((change) => {
    if (change.lane === 'policy') settle(performance.now(), change.position);
  });
  try {
    const counter = countQueries();
    let r: LoadResult;
    try {
      r = await runLoad({ mode: 'open', base: running.base, cookie: running.cookie, clientIds: running.clientIds, rate, warmup: options.warmup, seconds: options.seconds });
      const deadline = Date.now() + 60_000;
      while (pending.length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      counter.stop();
    }
    const queries = counter.stop();
    settled.sort((a, b) => a.appended - b.appended);
    const lags = settled.map((x) => x.lag);
    const appendMs = settled.map((x) => x.appendMs);
    const p50 = quantile(lags, 0.5);
    const p99 = quantile(lags, 0.99);
    const fifth = Math.max(1, Math.floor(lags.length / 5));
    console.log(`  ${int(r.ok)} commands answered 2xx${failures(r)}; the generator started requests at most ${ms(r.maxStartDelay ?? Number.NaN)} late`);
    console.log(`  lag append → projected   p50 ${ms(p50)}  p99 ${ms(p99)}  max ${ms(quantile(lags, 1))}   (${int(lags.length)} appends; target p99 ≤ 20 ms)`);
    const first = quantile(lags.slice(0, fifth), 0.5);
    const last = quantile(lags.slice(-fifth), 0.5);
    const growing = last > 2 * first + 50 ? ' (growing: the projection does not keep up with this rate)' : '';
    console.log(`  lag median in the first / last fifth of the run: ${ms(first)} → ${ms(last)}${growing}`);
    console.log(`  the append itself        p50 ${ms(quantile(appendMs, 0.5))}  p99 ${ms(quantile(appendMs, 0.99))}`);
    console.log(`  HTTP latency from the scheduled start  p50 ${ms(r.p50)}  p99 ${ms(r.p99)}`);
    if (pending.length > 0) console.log(`  ${pending.length} appends not projected 60 s after the load ended`);
    console.log(describeQueries(queries, r.allOk));
    const at = `at ${rate}/s`;
    return [
      { metric: `projection lag p50 ${at}`, figure: ms(p50), target: '' },
      { metric: `projection lag p99 ${at}`, figure: ms(p99), target: '≤ 20 ms', met: p99 <= 20 },
    ];
  } finally {
    unsubscribe();
    store.append = original;
    await running.app.close();
  }
}
