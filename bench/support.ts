/**
 * `npm run bench:support`: live support under load, on one app instance and an embedded Postgres.
 *
 * The server (this process) and the clients (a child process, so their memory and CPU are not
 * counted as the server's) talk over real sockets: N logged-in sockets (users and agents), every
 * user with an open ticket, then a steady stream of messages — a user writes, the ticket's agent
 * answers — at R messages per second in total. Prints delivery latency user → agent and agent →
 * user (p50/p99), acknowledgement latency (stored and projected), and server memory per socket.
 *
 *   npm run bench:support -- [--sockets 2000] [--agents 20] [--rate 200] [--seconds 30]
 */
import { execSync, fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createSession } from '../src/accounts/sessions.ts';
import { organisationStream } from '../src/accounts/events.ts';
import { decideOrganisation, organisationAggregate } from '../src/accounts/organisation.ts';
import { SESSION_COOKIE } from '../src/accounts/sessions.ts';
import type { Position } from '../src/eventstore/port.ts';
import { comparePositions } from '../src/eventstore/port.ts';
import { emitFigures } from './figures.ts';

interface Options {
  sockets: number;
  agents: number;
  rate: number;
  seconds: number;
}

function options(argv: string[]): Options {
  const value = (name: string, fallback: number) => {
    const i = argv.indexOf(`--${name}`);
    const n = i >= 0 ? Number(argv[i + 1]) : fallback;
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  return { sockets: value('sockets', 2_000), agents: value('agents', 20), rate: value('rate', 200), seconds: value('seconds', 30) };
}

interface Identity {
  token: string;
  sub: number;
  agent: boolean;
}

/** client → server process */
type ClientReport =
  | { type: 'connected'; seconds: number; failed: number }
  | { type: 'opened'; seconds: number; failed: number }
  | { type: 'done'; result: LoadResult };

/** server → client process */
type ServerCommand = { type: 'start'; url: string; identities: Identity[]; options: Options } | { type: 'open' } | { type: 'load' };

interface LoadResult {
  sent: number;
  seconds: number;
  userToAgent: number[];
  agentToUser: number[];
  ackUser: number[];
  ackAgent: number[];
  openAck: number[];
  failures: Record<string, number>;
  lost: number;
}

const quantile = (samples: number[], q: number) => {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
};
const fmt = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} ms` : 'n/a');
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

// ------------------------------------------------------------------------------------------
// The client process: opens the sockets and drives the load.
// ------------------------------------------------------------------------------------------

async function clientProcess(): Promise<void> {
  const send = (report: ClientReport) => process.send!(report);
  let url = '';
  let identities: Identity[] = [];
  let opts: Options;
  const sockets: Socket[] = [];
  const tickets: { ticketId: string; user: number; agent: number }[] = [];
  const ticketIndex = new Map<string, number>();
  const failures: Record<string, number> = {};
  const fail = (code: string) => (failures[code] = (failures[code] ?? 0) + 1);
  const userToAgent: number[] = [];
  const agentToUser: number[] = [];
  const ackUser: number[] = [];
  const ackAgent: number[] = [];
  const openAck: number[] = [];
  const sentAt = new Map<string, number>(); // clientMessageId → time sent
  let measuring = false;

  function connect(identity: Identity): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = io(`${url}/support`, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        extraHeaders: { cookie: `${SESSION_COOKIE}=${identity.token}` },
      });
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    });
  }

  async function connectAll(): Promise<void> {
    const started = performance.now();
    let failed = 0;
    const queue = identities.map((identity, i) => ({ identity, i }));
    const workers = Array.from({ length: 50 }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        try {
          sockets[job.i] = await connect(job.identity);
        } catch {
          failed++;
        }
      }
    });
    await Promise.all(workers);
    send({ type: 'connected', seconds: (performance.now() - started) / 1000, failed });
  }

  const agentIndexes = () => identities.map((id, i) => (id.agent ? i : -1)).filter((i) => i >= 0);
  const userIndexes = () => identities.map((id, i) => (id.agent ? -1 : i)).filter((i) => i >= 0);

  async function openAll(): Promise<void> {
    const agents = agentIndexes();
    const users = userIndexes();
    const started = performance.now();
    let failed = 0;
    // Opening is paced at the bench rate too: it is part of the load, not a burst.
    const interval = 1000 / opts.rate;
    await Promise.all(
      users.map(async (userIndex, n) => {
        await new Promise((r) => setTimeout(r, n * interval));
        const socket = sockets[userIndex];
        if (!socket) return failed++;
        const t0 = performance.now();
        const ack = await socket.timeout(30_000).emitWithAck('ticket:open', { subject: `Bench ${n}`, group: 'oauth-api', message: 'Hello', clientMessageId: `open-${n}` }).catch(() => undefined);
        openAck.push(performance.now() - t0);
        if (!ack?.ok) {
          fail(ack?.error?.code ?? 'timeout');
          return failed++;
        }
        ticketIndex.set(ack.ticketId, tickets.length);
        tickets.push({ ticketId: ack.ticketId, user: userIndex, agent: agents[n % agents.length]! });
      }),
    );
    send({ type: 'opened', seconds: (performance.now() - started) / 1000, failed });
  }

  function listen(): void {
    identities.forEach((identity, index) => {
      const socket = sockets[index];
      if (!socket) return;
      socket.on('ticket:message', (m: { ticketId: string; seq: number; author: number; authorRole: string; clientMessageId: string }) => {
        if (!measuring) return;
        const ticket = tickets[ticketIndex.get(m.ticketId) ?? -1];
        if (!ticket) return;
        const t0 = sentAt.get(m.clientMessageId);
        if (identity.agent && m.authorRole === 'user' && ticket.agent === index) {
          if (t0 !== undefined) userToAgent.push(performance.now() - t0);
          agentReply(index, ticket.ticketId, m.clientMessageId);
        } else if (!identity.agent && m.authorRole === 'agent' && ticket.user === index) {
          if (t0 !== undefined) agentToUser.push(performance.now() - t0);
          sentAt.delete(m.clientMessageId);
          pendingReplies.delete(m.clientMessageId);
        }
      });
    });
  }

  let sent = 0;
  const pendingReplies = new Set<string>();
  function post(socketIndex: number, ticketId: string, clientMessageId: string, acks: number[]): void {
    const socket = sockets[socketIndex]!;
    const t0 = performance.now();
    sentAt.set(clientMessageId, t0);
    sent++;
    socket
      .timeout(30_000)
      .emitWithAck('ticket:message', { ticketId, text: `bench message ${clientMessageId}`, clientMessageId })
      .then((ack: { ok: boolean; error?: { code: string } }) => {
        acks.push(performance.now() - t0);
        if (!ack.ok) fail(ack.error?.code ?? 'unknown');
      })
      .catch(() => fail('ack_timeout'));
  }
  function agentReply(agentIndex: number, ticketId: string, userMessageId: string): void {
    const replyId = `re-${userMessageId}`;
    pendingReplies.add(replyId);
    post(agentIndex, ticketId, replyId, ackAgent);
  }

  async function load(): Promise<void> {
    measuring = true;
    const roundTrips = opts.rate / 2; // each round trip is two messages: the user's and the agent's answer
    const started = performance.now();
    let issued = 0;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const elapsed = (performance.now() - started) / 1000;
        if (elapsed >= opts.seconds) {
          clearInterval(tick);
          resolve();
          return;
        }
        const due = Math.floor(elapsed * roundTrips);
        for (; issued < due; issued++) {
          const ticket = tickets[issued % tickets.length]!;
          post(ticket.user, ticket.ticketId, `u-${issued}-${randomUUID().slice(0, 8)}`, ackUser);
        }
      }, 2);
    });
    const seconds = (performance.now() - started) / 1000;
    // let the last answers arrive
    const deadline = Date.now() + 5_000;
    while (pendingReplies.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    measuring = false;
    send({
      type: 'done',
      result: { sent, seconds, userToAgent, agentToUser, ackUser, ackAgent, openAck, failures, lost: pendingReplies.size },
    });
    for (const s of sockets) s?.disconnect();
  }

  process.on('message', (command: ServerCommand) => {
    if (command.type === 'start') {
      url = command.url;
      identities = command.identities;
      opts = command.options;
      void connectAll().then(listen);
    } else if (command.type === 'open') void openAll();
    else if (command.type === 'load') void load();
  });
}

// ------------------------------------------------------------------------------------------
// The server process: Postgres, the app, the accounts; measures memory; prints.
// ------------------------------------------------------------------------------------------

async function serverProcess(opts: Options): Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const settle = () => {
    for (let i = 0; i < 3; i++) gc();
  };

  const fdLimit = execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim();
  console.log(`bench:support — ${opts.sockets} sockets (${opts.agents} agents), ${opts.rate} messages/s for ${opts.seconds} s`);
  console.log(`open-file limit (ulimit -n): ${fdLimit}${Number(fdLimit) < opts.sockets + 500 ? '  ← too low for this many sockets: raise it (ulimit -n) first' : ''}`);

  const dir = await mkdtemp(join(tmpdir(), 'keyledger-bench-support-'));
  const postgres = await startEmbeddedPostgres(dir, { database: 'bench' });
  const silent = new Writable({ write: (_c, _e, cb) => cb() });
  const config = loadConfig({ LOG_LEVEL: 'warn', WRITE_WAIT_MS: '5000' });
  const app = await createApp({ config, databaseUrl: postgres.connectionString, logger: createLogger({ level: 'warn', destination: silent }) });
  const address = await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${address.port}`;
  const { database, commands } = app.ctx;

  // Accounts without argon2: rows, an organisation each (through its events), a session each.
  const setupStarted = performance.now();
  const run = randomUUID().slice(0, 8);
  const rows = await database.db
    .insertInto('users')
    .values(
      Array.from({ length: opts.sockets }, (_, i) => ({
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
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let row = queue.shift(); row; row = queue.shift()) {
        const { sub } = row;
        const organisationId = row.organisation_id!;
        const outcome = await commands.handle(
          organisationStream(organisationId),
          organisationAggregate,
          { type: 'CreateOrganisation', key: `bench-org-${organisationId}`, metadata: { actor: 'cli', correlationId: run, causationId: run, requestId: run, ip: null, userAgent: 'bench', at: new Date().toISOString() } },
          (state) => decideOrganisation({ type: 'CreateOrganisation', organisationId, name: `Org ${sub}`, ownerSub: sub }, state),
        );
        const position = outcome.append?.position;
        if (position && (!last || comparePositions(position, last) > 0)) last = position;
      }
    }),
  );
  if (last) await app.ctx.watcher.waitFor(last, 60_000);
  const identities: Identity[] = [];
  for (const row of rows) {
    const session = await createSession(database.db, row.sub, 24, new Date(), { ip: null, userAgent: 'bench' });
    identities.push({ token: session.token, sub: row.sub, agent: row.staff_role === 'support_agent' });
  }
  console.log(`setup: ${rows.length} accounts with organisations and sessions in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s`);

  settle();
  const before = process.memoryUsage();
  const client = fork(new URL(import.meta.url).pathname, ['--client'], { execArgv: ['--import', 'tsx'], stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  const nextReport = <T extends ClientReport['type']>(type: T) =>
    new Promise<Extract<ClientReport, { type: T }>>((resolve, reject) => {
      const onMessage = (report: ClientReport) => {
        if (report.type !== type) return;
        client.off('message', onMessage);
        resolve(report as Extract<ClientReport, { type: T }>);
      };
      client.on('message', onMessage);
      client.once('exit', (code) => reject(new Error(`the client process exited (${code})`)));
    });

  client.send({ type: 'start', url, identities, options: opts } satisfies ServerCommand);
  const connected = await nextReport('connected');
  await new Promise((r) => setTimeout(r, 1_000));
  settle();
  const after = process.memoryUsage();
  const live = app.support.namespace.sockets.size;
  console.log(`connected: ${live} sockets in ${connected.seconds.toFixed(1)} s (${connected.failed} failed)`);

  const cpuBefore = process.cpuUsage();
  client.send({ type: 'open' } satisfies ServerCommand);
  const opened = await nextReport('opened');
  console.log(`opened: ${opts.sockets - opts.agents - opened.failed} tickets in ${opened.seconds.toFixed(1)} s (${opened.failed} failed)`);

  const cpuLoad = process.cpuUsage();
  client.send({ type: 'load' } satisfies ServerCommand);
  const { result } = await nextReport('done');
  const cpu = process.cpuUsage(cpuLoad);
  void cpuBefore;

  const heapPerSocket = (after.heapUsed - before.heapUsed) / Math.max(1, live);
  const rssPerSocket = (after.rss - before.rss) / Math.max(1, live);
  const p99 = Math.max(quantile(result.userToAgent, 0.99), quantile(result.agentToUser, 0.99));
  const rate = result.sent / result.seconds;
  const failures = Object.entries(result.failures).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none';
  console.log('');
  console.log('| measure | p50 | p99 | max | samples |');
  console.log('|---|---|---|---|---|');
  for (const [name, samples] of [
    ['delivery user → agent', result.userToAgent],
    ['delivery agent → user', result.agentToUser],
    ['ack user message (stored + projected)', result.ackUser],
    ['ack agent answer', result.ackAgent],
    ['ack ticket:open (warm-up)', result.openAck],
  ] as const) {
    console.log(`| ${name} | ${fmt(quantile(samples, 0.5))} | ${fmt(quantile(samples, 0.99))} | ${fmt(Math.max(...samples))} | ${samples.length} |`);
  }
  console.log('');
  console.log(`messages: ${result.sent} in ${result.seconds.toFixed(1)} s = ${rate.toFixed(0)}/s; failed acks: ${failures}; answers not seen: ${result.lost}`);
  console.log(`server CPU during the load: ${((cpu.user + cpu.system) / 1e6 / result.seconds * 100).toFixed(0)} % of one core`);
  console.log(`memory per connected socket: heap ${(heapPerSocket / 1024).toFixed(1)} kB, RSS ${(rssPerSocket / 1024).toFixed(1)} kB (${mb(after.heapUsed - before.heapUsed)} heap / ${mb(after.rss - before.rss)} RSS for ${live})`);
  console.log('');
  const socketsMet = live >= 2_000;
  const latencyMet = p99 <= 50 && rate >= 0.97 * 200;
  console.log(`target: 2,000 concurrent sockets — ${live} ${socketsMet ? 'MET' : 'NOT MET'}`);
  console.log(`target: p99 delivery ≤ 50 ms at 200 messages/s — p99 ${fmt(p99)} at ${rate.toFixed(0)}/s ${latencyMet ? 'MET' : 'NOT MET'}`);

  emitFigures('bench:support', [
    { name: 'concurrent support sockets', value: live, unit: 'sockets', floor: 'target', floorValue: 2_000, target: '≥ 2,000', met: socketsMet },
    { name: `p99 delivery at ${rate.toFixed(0)} messages/s`, value: p99, unit: 'ms', floor: 'target', floorValue: 50, target: '≤ 50 ms at 200/s', met: latencyMet },
    { name: 'ack user message p99', value: quantile(result.ackUser, 0.99), unit: 'ms' },
  ]);

  client.kill();
  await app.close();
  await postgres.stop();
  await rm(dir, { recursive: true, force: true });
}

if (process.argv.includes('--client')) await clientProcess();
else await serverProcess(options(process.argv.slice(2)));
