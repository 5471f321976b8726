/**
 * `npm run bench:support`: live support under load, on one or two app nodes and an embedded Postgres.
 *
 * The nodes and the load generator are separate processes (the generator's CPU is printed beside
 * the servers'): logged-in sockets (customers and agents, spread over the nodes so that most
 * messages cross between them), a ticket per customer joined by one agent, then a steady stream
 * of round trips — the customer writes, the agent answers (in the desk scenario now and then with
 * a canned answer, and now and then with a private note first) — at R messages per second in
 * total, for several runs in a row on the same servers (a slow run must not snowball into the
 * next). Prints delivery latency both ways (p50/p99), acknowledgement latency (stored and
 * projected), notes that reached a customer (must be 0), CPU and memory per socket.
 *
 *   npm run bench:support                        # the issue-12 scenario: 200 agents, 2,000 customers, 2 nodes, 5 runs
 *   npm run bench:support -- --agents 20 --customers 1980 --nodes 1 --notes 0 --canned 0   # the earlier one
 *   options: --agents --customers --nodes 1|2 --rate --seconds --runs --notes 0..1 --canned 0..1
 */
import { emitFigures } from './figures.ts';
import pg from 'pg';
import { sql } from 'kysely';
import { execSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { randomUUID } from 'node:crypto';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { tuneGarbageCollector } from '../src/runtime.ts';
import { createLogger } from '../src/logger.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createSession } from '../src/accounts/sessions.ts';
import { organisationStream } from '../src/accounts/events.ts';
import { decideOrganisation, organisationAggregate } from '../src/accounts/organisation.ts';
import type { Position } from '../src/eventstore/port.ts';
import { comparePositions } from '../src/eventstore/port.ts';
import type { ClientCommand, ClientReport, Identity, LoadResult } from './support-client.ts';
import type { NodeCommand, NodeReport } from './support-node.ts';
import { STAGES, type StageSamples, instrumentSupport } from './support-phases.ts';

interface Options {
  agents: number;
  customers: number;
  nodes: number;
  rate: number;
  seconds: number;
  runs: number;
  notes: number;
  canned: number;
}

function options(argv: string[]): Options {
  const value = (name: string, fallback: number, min = 0) => {
    const i = argv.indexOf(`--${name}`);
    const n = i >= 0 ? Number(argv[i + 1]) : fallback;
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}`);
    return n;
  };
  const o = {
    agents: value('agents', 200, 1),
    customers: value('customers', 2_000, 1),
    nodes: value('nodes', 2, 1),
    rate: value('rate', 200, 1),
    seconds: value('seconds', 30, 1),
    runs: value('runs', 5, 1),
    notes: value('notes', 0.2),
    canned: value('canned', 0.25),
  };
  if (o.nodes > 2) throw new Error('--nodes is 1 or 2');
  return o;
}

const quantile = (samples: number[], q: number) => {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
};
const fmt = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} ms` : 'n/a');
const pct = (micros: number, seconds: number) => `${((micros / 1e6 / seconds) * 100).toFixed(0)} %`;

/** The next report of `type` from a child process. */
function nextReport<R extends { type: string }, T extends R['type']>(child: ChildProcess, type: T): Promise<Extract<R, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (report: R) => {
      if (report.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(report as Extract<R, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`a bench process exited (${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const opts = options(process.argv.slice(2));
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const settle = () => {
  for (let i = 0; i < 3; i++) gc();
};
const sockets = opts.agents + opts.customers;

const fdLimit = execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim();
console.log(
  `bench:support — ${opts.customers} customers and ${opts.agents} agents on ${opts.nodes} node${opts.nodes > 1 ? 's' : ''}, ${opts.rate} messages/s ` +
    `(notes ${opts.notes * 100} % of round trips, canned answers ${opts.canned * 100} % of answers), ${opts.runs} × ${opts.seconds} s`,
);
console.log(`open-file limit (ulimit -n): ${fdLimit}${Number(fdLimit) < sockets * 2 + 500 ? '  ← too low for this many sockets: raise it (ulimit -n) first' : ''}`);
console.log(`load average before: ${execSync('cat /proc/loadavg').toString().trim()}`);

const dir = await mkdtemp(join(tmpdir(), 'keyledger-bench-support-'));
// BENCH_PG_STATEMENTS=1: the busiest statements of each run (pg_stat_statements), by server time
const statements = process.env.BENCH_PG_STATEMENTS === '1';
// BENCH_PG_LOG=1: Postgres's own work during each run (checkpoints, autovacuum and autoanalyze), from its log
const serverLog = process.env.BENCH_PG_LOG === '1';
const serverEvents: string[] = [];
const postgres = await startEmbeddedPostgres(dir, {
  database: 'bench',
  settings: [
    ...(statements ? ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all', 'pg_stat_statements.track_planning=on'] : []),
    ...(serverLog ? ['log_checkpoints=on', 'log_autovacuum_min_duration=0', "log_line_prefix=%m "] : []),
  ],
  ...(serverLog
    ? {
        onLog: (line: string) => {
          for (const l of line.split('\n')) {
            if (/checkpoint (starting|complete)|automatic (vacuum|analyze)/.test(l)) serverEvents.push(l.replace(/\s+/g, ' ').slice(0, 160));
          }
        },
      }
    : {}),
});
if (process.env.BENCH_PG_SETTINGS) {
  // an experiment: server settings for this run only, e.g. BENCH_PG_SETTINGS='synchronous_commit=off'
  const admin = new pg.Client({ connectionString: postgres.connectionString });
  await admin.connect();
  for (const setting of process.env.BENCH_PG_SETTINGS.split(',')) {
    const [name, value] = setting.split('=');
    await admin.query(`ALTER SYSTEM SET ${name!.trim()} = '${value!.trim().replaceAll("'", '')}'`);
  }
  await admin.query('SELECT pg_reload_conf()');
  await admin.end();
  console.log(`Postgres settings for this run: ${process.env.BENCH_PG_SETTINGS}`);
}
if (statements) {
  const admin = new pg.Client({ connectionString: postgres.connectionString });
  await admin.connect();
  await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await admin.end();
}
/** The run's ten statements that took the server longest (all databases' backends). */
async function busiestStatements(seconds: number): Promise<string> {
  if (!statements) return '';
  const { rows } = await sql<{ query: string; calls: string; ms: number; plan: number }>`
    SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query, calls::text, total_exec_time AS ms, total_plan_time AS plan
      FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 10`.execute(database.db);
  await sql`SELECT pg_stat_statements_reset()`.execute(database.db);
  return `\n  busiest statements (server ms per s, calls per s): ${rows.map((r) => `${(r.ms / seconds).toFixed(0)} ms (+${(r.plan / seconds).toFixed(0)} planning) ${(Number(r.calls) / seconds).toFixed(0)}/s ${r.query}`).join(' ; ')}`;
}
const silent = new Writable({ write: (_c, _e, cb) => cb() });
const config = loadConfig({ LOG_LEVEL: 'warn', WRITE_WAIT_MS: '5000', SUPPORT_HANDBACK_SECONDS: '3600', GC_HEAP_GROWING_PERCENT: process.env.GC_HEAP_GROWING_PERCENT });
// the garbage collector as a server has it (src/main.ts); GC_HEAP_GROWING_PERCENT=0 compares with V8's own
tuneGarbageCollector(config.GC_HEAP_GROWING_PERCENT);
console.log(`garbage collector (both nodes): old generation grows ${config.GC_HEAP_GROWING_PERCENT === 0 ? "as V8 chooses" : `${config.GC_HEAP_GROWING_PERCENT} %`} past what a full collection kept (GC_HEAP_GROWING_PERCENT)`);
const app = await createApp({ config, databaseUrl: postgres.connectionString, logger: createLogger({ level: 'warn', destination: silent }) });
const phases = instrumentSupport(app);
const address = await app.listen(0, '127.0.0.1');
const urls = [`http://127.0.0.1:${address.port}`];
const { database, commands } = app.ctx;

let second: ChildProcess | undefined;
if (opts.nodes === 2) {
  // BENCH_CPU_PROF=dir: the second node writes a CPU profile there (run this one with `node --cpu-prof` for the first)
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  // BENCH_NODE2_ARGS='--heap-prof --heap-prof-dir=/tmp/x': more Node flags for the second node
  profile.push(...(process.env.BENCH_NODE2_ARGS?.split(' ').filter(Boolean) ?? []));
  second = fork(new URL('./support-node.ts', import.meta.url).pathname, [postgres.connectionString], { execArgv: ['--import', 'tsx', ...profile], stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  urls.push((await nextReport<NodeReport, 'ready'>(second, 'ready')).url);
  for (const deadline = Date.now() + 60_000; (await app.support.namespace.adapter.serverCount()) < 2; ) {
    if (Date.now() > deadline) throw new Error('the two nodes did not find each other');
    await new Promise((r) => setTimeout(r, 100));
  }
}
const askSecond = <T extends NodeReport['type']>(command: NodeCommand, type: T) => {
  second!.send(command);
  return nextReport<NodeReport, T>(second!, type);
};

// Accounts without argon2: rows, an organisation each (through its events), a session each.
const setupStarted = performance.now();
const run = randomUUID().slice(0, 8);
const rows = await database.db
  .insertInto('users')
  .values(
    Array.from({ length: sockets }, (_, i) => ({
      email: `bench-${run}-${i}@example.com`,
      name: `Bench ${i}`,
      password_hash: 'not-a-hash',
      organisation_id: `org_bench${run}${i}`,
      staff_role: i < opts.agents ? 'support_agent' : null,
    })),
  )
  .returning(['sub', 'organisation_id', 'staff_role'])
  .execute();
let last: Position | undefined;
const queue = [...rows];
const metadata = () => ({ actor: 'cli', correlationId: run, causationId: run, requestId: `${run}-${randomUUID()}`, ip: null, userAgent: 'bench', at: new Date().toISOString() });
await Promise.all(
  Array.from({ length: 16 }, async () => {
    for (let row = queue.shift(); row; row = queue.shift()) {
      const { sub } = row;
      const organisationId = row.organisation_id!; // every bench user was made with one
      const outcome = await commands.handle(organisationStream(organisationId), organisationAggregate, { type: 'CreateOrganisation', key: `bench-org-${organisationId}`, metadata: metadata() }, (state) =>
        decideOrganisation({ type: 'CreateOrganisation', organisationId, name: `Org ${sub}`, ownerSub: sub }, state),
      );
      const position = outcome.append?.position;
      if (position && (!last || comparePositions(position, last) > 0)) last = position;
    }
  }),
);
if (last) await app.ctx.watcher.waitFor(last, 60_000);
const identities: Identity[] = [];
for (const [i, row] of rows.entries()) {
  const session = await createSession(database.db, row.sub, 24, new Date(), { ip: null, userAgent: 'bench' });
  // agents and customers alternate over the nodes in opposite order: most messages cross nodes
  const agent = row.staff_role === 'support_agent';
  identities.push({ token: session.token, sub: row.sub, agent, node: opts.nodes === 1 ? 0 : (i + (agent ? 1 : 0)) % 2 });
}
const firstAgent = { sub: rows[0]!.sub, agent: true };
const cannedId =
  opts.canned > 0
    ? await app.support.desk.saveCanned(firstAgent, { title: 'Rotated secret', en: 'Hello {{customerName}}, client {{clientId}} uses a rotated secret.', nl: 'Hallo {{customerName}}, client {{clientId}} gebruikt een geroteerd geheim.' }, metadata())
    : null;
console.log(`setup: ${rows.length} accounts with organisations and sessions in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s`);

async function memory(): Promise<{ heap: number; rss: number }> {
  settle();
  const here = process.memoryUsage();
  const there = second ? await askSecond({ type: 'memory' }, 'memory') : { heapUsed: 0, rss: 0 };
  return { heap: here.heapUsed + there.heapUsed, rss: here.rss + there.rss };
}
/** CPU of this bench's Postgres (the postmaster and its backends), in µs: it shares the cores too. */
async function postgresCpu(): Promise<number> {
  const postmaster = Number((await readFile(join(dir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(postmaster) || postmaster <= 0) return Number.NaN;
  const ticksPerSecond = 100; // USER_HZ on Linux
  let ticks = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // after the name: state, ppid, …; utime and stime are fields 14 and 15 of the whole line
    if (Number(entry) === postmaster || Number(fields[1]) === postmaster) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks / ticksPerSecond) * 1e6;
}
/** CPU of each Postgres process (µs by pid), to split a run's Postgres CPU by who asked for it. */
async function postgresCpuByPid(): Promise<Map<number, number>> {
  const postmaster = Number((await readFile(join(dir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  const out = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === postmaster) out.set(Number(entry), ((Number(fields[11]) + Number(fields[12])) / 100) * 1e6);
  }
  return out;
}
/** Who each Postgres process works for: its connection's application name, or its kind (autovacuum, walwriter, …). */
async function postgresRoles(): Promise<Map<number, string>> {
  const { rows } = await sql<{ pid: number; role: string }>`SELECT pid, coalesce(nullif(application_name, ''), backend_type) AS role FROM pg_stat_activity`.execute(database.db);
  return new Map(rows.map((r) => [r.pid, r.role]));
}
/** A run's Postgres CPU by role, largest first, as shares of one core. */
function splitPostgresCpu(before: Map<number, number>, after: Map<number, number>, roles: Map<number, string>, seconds: number): string {
  const byRole = new Map<string, number>();
  for (const [pid, micros] of after) {
    const role = (roles.get(pid) ?? 'ended or unknown').replace(/^keyledger-app-\w{6,}/, 'keyledger-app');
    byRole.set(role, (byRole.get(role) ?? 0) + micros - (before.get(pid) ?? 0));
  }
  return [...byRole].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([role, v]) => `${role} ${pct(v, seconds)}`).join(', ');
}
/** The machine's CPU time so far (/proc/stat, ticks of all cores): busy, waiting for I/O, stolen by the host. */
async function machineTicks(): Promise<{ busy: number; iowait: number; steal: number; total: number }> {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq!;
  return { busy, iowait: iowait!, steal: steal!, total: busy + idle! + iowait! + steal! };
}
const machineShare = (before: Awaited<ReturnType<typeof machineTicks>>, after: Awaited<ReturnType<typeof machineTicks>>) => {
  const total = after.total - before.total;
  const share = (k: 'busy' | 'iowait' | 'steal') => `${((100 * (after[k] - before[k])) / total).toFixed(1)} %`;
  return `machine (both cores): busy ${share('busy')}, waiting for I/O ${share('iowait')}, stolen by the host ${share('steal')}`;
};
/** Transactions committed in the bench database so far (every node, the projector and the adapter). */
async function commits(): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()`.execute(database.db);
  return Number(rows[0]!.n);
}
/** Where the write-ahead log ends now (bytes): a run's WAL volume, and how many 16 MB segments it began. */
async function walBytes(): Promise<bigint> {
  const { rows } = await sql<{ n: string }>`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS n`.execute(database.db);
  return BigInt(rows[0]!.n.split('.')[0]!);
}
const walLine = (before: bigint, after: bigint, seconds: number) => {
  const segment = 16n * 1024n * 1024n;
  return `write-ahead log: ${(Number(after - before) / 1e6 / seconds).toFixed(2)} MB/s, ${after / segment - before / segment} new segments`;
};
async function serverCpu(): Promise<number> {
  const here = process.cpuUsage();
  const there = second ? await askSecond({ type: 'cpu' }, 'cpu') : { userMicros: 0, systemMicros: 0 };
  return here.user + here.system + there.userMicros + there.systemMicros;
}

const before = await memory();
const client = fork(new URL('./support-client.ts', import.meta.url).pathname, [], { execArgv: ['--import', 'tsx'], stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
const tell = (command: ClientCommand) => client.send(command);
tell({ type: 'start', urls, identities });
const connected = await nextReport<ClientReport, 'connected'>(client, 'connected');
await new Promise((r) => setTimeout(r, 1_000));
const after = await memory();
const live = app.support.namespace.sockets.size + (second ? (await askSecond({ type: 'memory' }, 'memory')).sockets : 0);
console.log(`connected: ${live} sockets in ${connected.seconds.toFixed(1)} s (${connected.failed} failed)`);
console.log(
  `memory per connected socket (all nodes): heap ${((after.heap - before.heap) / live / 1024).toFixed(1)} kB, RSS ${((after.rss - before.rss) / live / 1024).toFixed(1)} kB`,
);

tell({ type: 'open', rate: opts.rate });
const opened = await nextReport<ClientReport, 'opened'>(client, 'opened');
console.log(`opened: ${opts.customers - opened.failed} tickets in ${opened.seconds.toFixed(1)} s (${opened.failed} failed); ack p50 ${fmt(quantile(opened.openAck, 0.5))}, p99 ${fmt(quantile(opened.openAck, 0.99))}`);
tell({ type: 'join' });
const joined = await nextReport<ClientReport, 'joined'>(client, 'joined');
console.log(`joined: every ticket by its agent in ${joined.seconds.toFixed(1)} s (${joined.failed} failed)`);
// The runs measure steady messaging, not the wake of the setup's burst (2,000 tickets opened in
// ten seconds, each announced to every agent): the projector catches up, the desk digest goes
// out, both nodes collect the setup's garbage, and the machine has two quiet seconds.
const settleStarted = performance.now();
await app.ctx.watcher.waitFor(await app.ctx.store.headPosition(), 60_000);
await memory();
await new Promise((r) => setTimeout(r, 2_000));
console.log(`settled: projector caught up, setup garbage collected on both nodes, 2 s quiet (${((performance.now() - settleStarted) / 1000).toFixed(1)} s)`);

console.log('');
console.log('| run | delivery p50 | delivery p99 | max | ack p99 (stored + projected) | messages/s | notes | notes to customers | failed acks | unanswered | server CPU (both nodes) | Postgres CPU | load generator CPU |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const p99s: number[] = [];
let leaked = 0;
const breakdowns: string[] = [];
async function takePhases(): Promise<StageSamples[]> {
  return [phases.take(), ...(second ? [(await askSecond({ type: 'phases' }, 'phases')).samples] : [])];
}
for (let i = 1; i <= opts.runs; i++) {
  await takePhases(); // what opening and joining left behind is not this run's
  const cpuBefore = await serverCpu();
  const postgresBefore = await postgresCpu();
  const commitsBefore = await commits();
  const perPidBefore = await postgresCpuByPid();
  const runStarted = new Date().toISOString();
  const machineBefore = await machineTicks();
  const walBefore = await walBytes();
  await busiestStatements(1);
  const loadStarted = Date.now();
  tell({ type: 'load', options: { rate: opts.rate, seconds: opts.seconds, cannedShare: opts.canned, noteShare: opts.notes, cannedId } });
  const { result } = await nextReport<ClientReport, 'done'>(client, 'done');
  const cpu = (await serverCpu()) - cpuBefore;
  const postgresUsed = (await postgresCpu()) - postgresBefore;
  const commitRate = ((await commits()) - commitsBefore) / result.seconds;
  const machine = machineShare(machineBefore, await machineTicks());
  const wal = walLine(walBefore, await walBytes(), result.seconds);
  const postgresSplit = splitPostgresCpu(perPidBefore, await postgresCpuByPid(), await postgresRoles(), result.seconds);
  const delivery = [...result.userToAgent, ...result.agentToUser];
  const p99 = quantile(delivery, 0.99);
  p99s.push(p99);
  leaked += result.notesToCustomers;
  printRun(i, result, delivery, p99, cpu, postgresUsed);
  const logged = serverLog ? `\n  run from ${runStarted} to ${new Date().toISOString()}${serverEvents.splice(0).map((l) => `\n  postgres: ${l}`).join('')}` : '';
  const first5 = result.bySecond.slice(0, 5).flat();
  const perSecond = Array.from(result.bySecond, (v) => (v ? quantile(v, 0.99).toFixed(0) : '–')).join(' ');
  const early = `\n  delivery p99 of the messages sent in the run's first 5 s: ${fmt(quantile(first5, 0.99))} (${first5.length}); of all: ${fmt(p99)}\n  delivery p99 by the second sent (ms): ${perSecond}`;
  const phasesOfRun = await takePhases();
  const majorsAt = phasesOfRun.map((n, k) => `node ${k + 1} ${(n.majors ?? []).map(([at, ms]) => `${((at - loadStarted) / 1000).toFixed(1)} s (${ms.toFixed(0)} ms)`).join(', ') || 'none'}`).join('; ');
  breakdowns.push(`${breakdown(i, phasesOfRun)}${early}\n  major collections, by when in the run they began: ${majorsAt}${logged}\n  load generator: event loop delay p99 ${result.loop.p99.toFixed(1)} / max ${result.loop.max.toFixed(0)} ms, longest garbage collection pause ${result.loop.gcMax.toFixed(0)} ms\n  Postgres transactions committed: ${commitRate.toFixed(0)}/s, ${wal}\n  Postgres CPU by connection: ${postgresSplit}\n  ${machine}${await busiestStatements(result.seconds)}`);
}
console.log('');
console.log('Where a message waits, per run (server side; p50 / p99 / max in ms; node 1 | node 2):');
for (const b of breakdowns) console.log(b);
console.log('');
const worst = Math.max(...p99s);
console.log(`target: delivery p99 ≤ 50 ms in every run at ${opts.rate} messages/s — worst run ${fmt(worst)} ${worst <= 50 ? 'MET' : 'NOT MET'}`);
console.log(`target: no note delivered to a customer — ${leaked} ${leaked === 0 ? 'MET' : 'NOT MET'}`);
emitFigures('bench:support', [
  { name: `delivery p99, worst of ${opts.runs} runs (${opts.agents} agents, ${opts.customers} customers, ${opts.nodes} nodes, ${opts.rate} msg/s)`, value: worst, unit: 'ms', floor: 'target', floorValue: 50, target: '≤ 50 ms', met: worst <= 50 },
  { name: 'notes delivered to customers', value: leaked, unit: 'notes', target: '0', met: leaked === 0 },
]);
console.log(`load average after: ${execSync('cat /proc/loadavg').toString().trim()}`);

function printRun(i: number, result: LoadResult, delivery: number[], p99: number, cpu: number, postgres: number): void {
  const failures = Object.entries(result.failures).map(([k, v]) => `${k} ×${v}`).join(', ') || '0';
  console.log(
    `| ${i} | ${fmt(quantile(delivery, 0.5))} | ${fmt(p99)} | ${fmt(Math.max(...delivery))} | ${fmt(quantile([...result.ackUser, ...result.ackAgent], 0.99))} | ` +
      `${(result.sent / result.seconds).toFixed(0)} | ${result.notes} | ${result.notesToCustomers} | ${failures} | ${result.lost} | ` +
      `${pct(cpu, result.seconds)} | ${pct(postgres, result.seconds)} | ${pct(result.cpuMicros, result.seconds)} |`,
  );
}

/** One run's stages on every node: p50 / p99 / max each. */
function breakdown(i: number, nodes: StageSamples[]): string {
  const cell = (values: number[] | undefined, stage: string) => {
    if (!values || values.length === 0) return '–';
    // the event loop's delay comes as its own p50, p99 and max
    const [p50, p99, max] = stage === 'event loop delay' ? values : [quantile(values, 0.5), quantile(values, 0.99), Math.max(...values)];
    // pauses: how many, too
    const count = stage.includes('garbage') || stage.includes('major') ? ` ×${values.length}` : '';
    return `${p50!.toFixed(1)} / ${p99!.toFixed(1)} / ${max!.toFixed(0)}${count}`;
  };
  const lines = [`run ${i}: messages stored ${nodes.map((n) => n.messages ?? 0).join(' | ')}, append conflicts (the other node wrote first) ${nodes.map((n) => n.conflicts ?? 0).join(' | ')}, ticket stream reads before deciding ${nodes.map((n) => n.reads ?? 0).join(' | ')}`];
  for (const stage of STAGES) lines.push(`  ${stage.padEnd(28)} ${nodes.map((n) => cell(n[stage], stage).padEnd(22)).join(' | ')}`);
  // the queries each node's main thread sent (per second of the run), most frequent first
  nodes.forEach((n, k) => {
    const top = Object.entries(n.queries ?? {}).sort((a, b) => b[1] - a[1]).slice(0, 8);
    const total = Object.values(n.queries ?? {}).reduce((a, b) => a + b, 0);
    lines.push(`  queries node ${k + 1}: ${(total / opts.seconds).toFixed(0)}/s — ${top.map(([q, c]) => `${(c / opts.seconds).toFixed(0)}/s ${q}`).join('; ')}`);
  });
  return lines.join('\n');
}

client.kill();
if (second) await askSecond({ type: 'stop' }, 'memory').catch(() => {});
second?.kill();
await app.close();
await postgres.stop();
await rm(dir, { recursive: true, force: true });
