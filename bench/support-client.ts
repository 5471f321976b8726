/**
 * The load generator of `npm run bench:support`, in its own process (its CPU is reported, not
 * counted as the server's): logged-in sockets on the nodes, a ticket per customer, each ticket
 * joined by one agent, then an open-loop stream of round trips — the customer writes, the agent
 * answers (now and then with a canned answer, now and then adding a private note first).
 */
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { SESSION_COOKIE } from '../src/accounts/sessions.ts';

export interface Identity {
  token: string;
  sub: number;
  agent: boolean;
  node: number;
}

export interface LoadOptions {
  rate: number;
  seconds: number;
  /** share of agent answers sent as a canned answer, and of round trips with a note */
  cannedShare: number;
  noteShare: number;
  cannedId: string | null;
}

export interface LoadResult {
  sent: number;
  notes: number;
  seconds: number;
  userToAgent: number[];
  agentToUser: number[];
  /** deliveries (both ways) of messages sent in the run's first 5 seconds: is a slow run slow from its start? */
  /** delivery latencies by the second (of the run) their message was sent in */
  bySecond: number[][];
  ackUser: number[];
  ackAgent: number[];
  failures: Record<string, number>;
  lost: number;
  /** notes (private: true, or a note's id) a customer socket received: must be 0 */
  notesToCustomers: number;
  cpuMicros: number;
  /** this load generator's event loop delay (p99, max) and longest garbage collection pause, ms: its own stalls are in the delivery figures too */
  loop: { p99: number; max: number; gcMax: number };
}

export type ClientReport =
  | { type: 'connected'; seconds: number; failed: number }
  | { type: 'opened'; seconds: number; failed: number; openAck: number[] }
  | { type: 'joined'; seconds: number; failed: number }
  | { type: 'done'; result: LoadResult };

export type ClientCommand =
  | { type: 'start'; urls: string[]; identities: Identity[] }
  | { type: 'open'; rate: number }
  | { type: 'join' }
  | { type: 'load'; options: LoadOptions };

const send = (report: ClientReport) => process.send!(report);
let urls: string[] = [];
let identities: Identity[] = [];
const sockets: Socket[] = [];
const tickets: { ticketId: string; user: number; agent: number }[] = [];
const ticketIndex = new Map<string, number>();
let run: { options: LoadOptions; result: LoadResult; sentAt: Map<string, number>; pending: Set<string>; startedAt: number } | undefined;

const fail = (code: string) => {
  if (run) run.result.failures[code] = (run.result.failures[code] ?? 0) + 1;
};

function connect(identity: Identity): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(`${urls[identity.node]}/support`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: 60_000,
      extraHeaders: { cookie: `${SESSION_COOKIE}=${identity.token}` },
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

async function pool<T>(items: T[], workers: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: workers }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  }));
}

async function connectAll(): Promise<void> {
  const started = performance.now();
  let failed = 0;
  let done = 0;
  await pool(identities.map((identity, i) => ({ identity, i })), 50, async ({ identity, i }) => {
    try {
      sockets[i] = await connect(identity);
    } catch (error) {
      if (failed++ === 0) console.error(`first failed connection: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (++done % 500 === 0) console.error(`  … ${done} sockets`);
  });
  identities.forEach((identity, index) => sockets[index]?.on('ticket:message', (m: Message) => onMessage(identity, index, m)));
  send({ type: 'connected', seconds: (performance.now() - started) / 1000, failed });
}

async function openAll(rate: number): Promise<void> {
  const agents = identities.map((id, i) => (id.agent ? i : -1)).filter((i) => i >= 0);
  const users = identities.map((id, i) => (id.agent ? -1 : i)).filter((i) => i >= 0);
  const started = performance.now();
  const openAck: number[] = [];
  let failed = 0;
  // Opening is paced at the bench rate too: it is part of the load, not a burst.
  await Promise.all(
    users.map(async (userIndex, n) => {
      await new Promise((r) => setTimeout(r, (n * 1000) / rate));
      const socket = sockets[userIndex];
      if (!socket) return void failed++;
      const t0 = performance.now();
      const ack = await socket.timeout(30_000).emitWithAck('ticket:open', { subject: `Bench ${n}`, group: 'oauth-api', message: 'Hello', clientMessageId: `open-${n}` }).catch(() => undefined);
      openAck.push(performance.now() - t0);
      if (!ack?.ok) return void failed++;
      ticketIndex.set(ack.ticketId, tickets.length);
      tickets.push({ ticketId: ack.ticketId, user: userIndex, agent: agents[n % agents.length]! });
    }),
  );
  send({ type: 'opened', seconds: (performance.now() - started) / 1000, failed, openAck });
}

/** Each ticket's agent joins it (the desk does when an agent opens a ticket): messages reach them there. */
async function joinAll(): Promise<void> {
  const started = performance.now();
  let failed = 0;
  await pool(tickets, 50, async (ticket) => {
    const ack = await sockets[ticket.agent]!.timeout(30_000).emitWithAck('ticket:join', { ticketId: ticket.ticketId, afterSeq: 1 }).catch(() => undefined);
    if (!ack?.ok) failed++;
  });
  send({ type: 'joined', seconds: (performance.now() - started) / 1000, failed });
}

interface Message {
  ticketId: string;
  seq: number;
  authorRole: string;
  clientMessageId: string;
  private?: boolean;
}

function onMessage(identity: Identity, index: number, m: Message): void {
  if (!run) return;
  const isNote = m.private === true || m.clientMessageId.startsWith('note-');
  if (!identity.agent && isNote) run.result.notesToCustomers++;
  const ticket = tickets[ticketIndex.get(m.ticketId) ?? -1];
  if (!ticket || isNote) return;
  const t0 = run.sentAt.get(m.clientMessageId);
  if (identity.agent && m.authorRole === 'user' && ticket.agent === index) {
    if (t0 !== undefined) run.result.userToAgent.push(performance.now() - t0);
    if (t0 !== undefined) (run.result.bySecond[Math.floor((t0 - run.startedAt) / 1000)] ??= []).push(performance.now() - t0);
    answer(index, ticket.ticketId, m.clientMessageId);
  } else if (!identity.agent && m.authorRole === 'agent' && ticket.user === index) {
    if (t0 !== undefined) run.result.agentToUser.push(performance.now() - t0);
    if (t0 !== undefined) (run.result.bySecond[Math.floor((t0 - run.startedAt) / 1000)] ??= []).push(performance.now() - t0);
    run.sentAt.delete(m.clientMessageId);
    run.pending.delete(m.clientMessageId);
  }
}

function post(socketIndex: number, event: string, payload: Record<string, unknown>, clientMessageId: string, acks: number[] | null): void {
  const r = run!;
  const t0 = performance.now();
  if (acks) r.sentAt.set(clientMessageId, t0);
  r.result.sent++;
  sockets[socketIndex]!
    .timeout(30_000)
    .emitWithAck(event, { ...payload, clientMessageId })
    .then((ack: { ok: boolean; error?: { code: string } }) => {
      acks?.push(performance.now() - t0);
      if (!ack.ok) fail(ack.error?.code ?? 'unknown');
    })
    .catch(() => fail(`${event} ack_timeout`));
}

function answer(agentIndex: number, ticketId: string, userMessageId: string): void {
  const r = run!;
  const replyId = `re-${userMessageId}`;
  r.pending.add(replyId);
  if (Math.random() < r.options.noteShare) {
    r.result.notes++;
    post(agentIndex, 'ticket:note', { ticketId, text: 'private: customer is on the starter plan' }, `note-${userMessageId}`, null);
  }
  if (r.options.cannedId && Math.random() < r.options.cannedShare) post(agentIndex, 'ticket:canned', { ticketId, cannedId: r.options.cannedId }, replyId, r.result.ackAgent);
  else post(agentIndex, 'ticket:message', { ticketId, text: `bench answer ${replyId}` }, replyId, r.result.ackAgent);
}

async function load(options: LoadOptions): Promise<void> {
  const result: LoadResult = { sent: 0, notes: 0, seconds: 0, userToAgent: [], agentToUser: [], bySecond: [], ackUser: [], ackAgent: [], failures: {}, lost: 0, notesToCustomers: 0, cpuMicros: 0, loop: { p99: 0, max: 0, gcMax: 0 } };
  run = { options, result, sentAt: new Map(), pending: new Set(), startedAt: performance.now() };
  const cpu = process.cpuUsage();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) result.loop.gcMax = Math.max(result.loop.gcMax, entry.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  // each round trip is the customer's message, the answer, and sometimes a note
  const roundTrips = options.rate / (2 + options.noteShare);
  const started = performance.now();
  let issued = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      if (elapsed >= options.seconds) {
        clearInterval(tick);
        resolve();
        return;
      }
      for (const due = Math.floor(elapsed * roundTrips); issued < due; issued++) {
        const ticket = tickets[issued % tickets.length]!;
        post(ticket.user, 'ticket:message', { ticketId: ticket.ticketId, text: `bench message ${issued}` }, `u-${issued}-${randomUUID().slice(0, 8)}`, result.ackUser);
      }
    }, 2);
  });
  result.seconds = (performance.now() - started) / 1000;
  // let the last answers arrive (bounded)
  for (const deadline = Date.now() + 10_000; run.pending.size > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
  const used = process.cpuUsage(cpu);
  result.cpuMicros = used.user + used.system;
  loop.disable();
  gc.disconnect();
  result.loop.p99 = loop.percentile(99) / 1e6;
  result.loop.max = loop.max / 1e6;
  result.lost = run.pending.size;
  run = undefined;
  send({ type: 'done', result });
}

process.on('message', (command: ClientCommand) => {
  switch (command.type) {
    case 'start':
      urls = command.urls;
      identities = command.identities;
      void connectAll();
      break;
    case 'open':
      void openAll(command.rate);
      break;
    case 'join':
      void joinAll();
      break;
    case 'load':
      void load(command.options);
      break;
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
});
