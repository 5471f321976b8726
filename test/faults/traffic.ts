// Traffic that runs while the faults happen, and what it must never see: a refused caller
// allowed, an answer other than the expected refusal or a 503, a lost acknowledged write.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { expect } from 'vitest';
import { generateSecret } from '../../src/clients/secret-format.ts';
import { parsePosition } from '../../src/eventstore/port.ts';
import { changeStaffRole, cliMetadata } from '../../src/support/staff.ts';
import type { TestApp } from '../support/app.ts';
import { Caller, signUp } from '../support/http.ts';
import { partnerHeaders, partnerSetup, type PartnerSetup } from '../support/partner.ts';
import { type Ack, connectSocket, connected } from '../support-socket.ts';
import { type Cluster, eventually } from './cluster.ts';

/** The callers and the things they use, made while the database is up. */
export interface World {
  readonly partner: PartnerSetup;
  /** a client of the same organisation, disabled: every call must be refused */
  readonly disabled: { clientId: string; secret: string; domain: string };
  readonly user: { caller: Caller; socket: Socket; ticketId: string };
  readonly agent: { socket: Socket; seen: Set<string> };
  /** node 0 serves the writes; the agent sits on the last node (through the adapter when two) */
  readonly cluster: Cluster;
}

export async function createWorld(cluster: Cluster): Promise<World> {
  const [first] = cluster.nodes;
  const last = cluster.nodes.at(-1)!;
  const partner = await partnerSetup(first!.url, { plan: 'business' });
  const created = await partner.caller.post('/manage/v1/clients', { name: 'Switched off' });
  expect(created.status).toBe(201);
  expect((await partner.caller.post(`/manage/v1/clients/${created.body.clientId}/disable`)).status).toBe(200);
  const disabled = { clientId: created.body.clientId as string, secret: created.body.secret.secret as string, domain: 'api.example.com' };

  const user = await signUp(first!.url, { plan: null, name: 'Ada Lovelace' });
  const agentAccount = await signUp(last.url, { plan: null, name: 'Agent Smith' });
  await changeStaffRole(first!.app.ctx.database, first!.app.ctx.commands, { email: agentAccount.email, grant: true, metadata: cliMetadata(new Date()) });
  const agentSocket = await connected(connectSocket(last.url, agentAccount.caller));
  const seen = new Set<string>();
  agentSocket.on('ticket:message', (m: { clientMessageId: string }) => seen.add(m.clientMessageId));
  const userSocket = await connected(connectSocket(first!.url, user.caller));
  const opened = (await userSocket.timeout(30_000).emitWithAck('ticket:open', {
    subject: 'Does it survive?',
    group: 'oauth-api',
    message: 'A first message, before any fault.',
    clientMessageId: 'opening',
  })) as Ack;
  if (!opened.ok) throw new Error(`ticket:open: ${JSON.stringify(opened)}`);
  // The agent works the ticket, as the desk does: messages reach the agents in the ticket (and its assignee), not every agent.
  const joined = (await agentSocket.timeout(30_000).emitWithAck('ticket:join', { ticketId: opened.ticketId })) as Ack;
  if (!joined.ok) throw new Error(`ticket:join: ${JSON.stringify(joined)}`);
  return {
    partner,
    disabled,
    user: { caller: user.caller, socket: userSocket, ticketId: opened.ticketId as string },
    agent: { socket: agentSocket, seen },
    cluster,
  };
}

type CallKind = 'valid' | 'disabled' | 'wrong_secret' | 'unknown_client';
/** What each kind of call may answer besides a 503: anything else is a violation. */
const EXPECTED: Record<CallKind, { status: number; code?: string }> = {
  valid: { status: 200 },
  disabled: { status: 403, code: 'client_disabled' },
  wrong_secret: { status: 401, code: 'invalid_secret' },
  unknown_client: { status: 401, code: 'unknown_client' },
};

export interface Traffic {
  /** answers that break a rule (a refused caller allowed, a 500, a 503 without Retry-After…) */
  readonly violations: string[];
  readonly counts: Record<string, number>;
  /** request ids of the refusals the partner API answered (each must reach the decision log) */
  readonly denials: string[];
  /** redirect URIs whose POST answered 201 */
  readonly ackedWrites: string[];
  /** support messages acknowledged ok: clientMessageId → seq */
  readonly ackedMessages: Map<string, number>;
  stop(): Promise<void>;
}

const KINDS: CallKind[] = ['valid', 'disabled', 'wrong_secret', 'unknown_client'];

/**
 * Partner calls of every kind, management writes and support messages, on every node, each
 * loop sending its next request once the last is answered. The loops yield briefly between
 * requests so that the load stays a background, not a flood (this paces load; nothing waits on it).
 */
export function startTraffic(world: World): Traffic {
  const { partner, disabled, cluster } = world;
  const violations: string[] = [];
  const counts: Record<string, number> = {};
  const denials: string[] = [];
  const ackedWrites: string[] = [];
  const ackedMessages = new Map<string, number>();
  let running = true;
  let n = 0;
  const pace = () => new Promise((resolve) => setTimeout(resolve, 5));
  const count = (key: string) => (counts[key] = (counts[key] ?? 0) + 1);

  const wrong = generateSecret().secret;
  const headersFor = (kind: CallKind): Record<string, string> => {
    switch (kind) {
      case 'valid':
        return partnerHeaders(partner);
      case 'disabled':
        return partnerHeaders(disabled);
      case 'wrong_secret':
        return partnerHeaders({ ...partner, secret: wrong });
      case 'unknown_client':
        return partnerHeaders({ clientId: 'kc_NeverRegistered0', secret: wrong, domain: partner.domain });
    }
  };

  async function partnerLoop(node: TestApp): Promise<void> {
    while (running) {
      const kind = KINDS[n++ % KINDS.length]!;
      const requestId = `fault-${randomUUID()}`;
      try {
        const res = await fetch(`${node.url}/api/whoami`, { headers: { ...headersFor(kind), 'X-Request-Id': requestId } });
        const body = (await res.json()) as { status: string; code?: string };
        count(`${kind} ${res.status}`);
        const expected = EXPECTED[kind];
        if (res.status === 200 && kind !== 'valid') violations.push(`${kind} call allowed: ${JSON.stringify(body)}`);
        else if (res.status === 503) {
          if (body.code !== 'database_unavailable' || !res.headers.get('retry-after')) violations.push(`503 without its envelope: ${JSON.stringify(body)}`);
        } else if (res.status !== expected.status || (expected.code && body.code !== expected.code)) {
          violations.push(`${kind} call answered ${res.status} ${JSON.stringify(body)}`);
        } else if (kind !== 'valid') denials.push(requestId);
      } catch (error) {
        violations.push(`${kind} call got no answer: ${String(error)}`);
      }
      await pace();
    }
  }

  async function writeLoop(node: TestApp): Promise<void> {
    const caller = new Caller(node.url);
    caller.cookies = new Map(partner.caller.cookies);
    while (running) {
      const uri = `https://api.example.com/callback/${randomUUID()}`;
      try {
        const res = await caller.post(`/manage/v1/clients/${partner.clientId}/redirect-uris`, { uri });
        count(`write ${res.status}`);
        if (res.status === 201) ackedWrites.push(uri);
        else if (res.status !== 503 || res.body?.code !== 'database_unavailable' || !res.headers.get('retry-after')) {
          violations.push(`write answered ${res.status} ${res.text}`);
        }
      } catch (error) {
        violations.push(`write got no answer: ${String(error)}`);
      }
      await pace();
    }
  }

  async function messageLoop(): Promise<void> {
    const { socket, ticketId } = world.user;
    while (running) {
      const clientMessageId = `m-${randomUUID()}`;
      try {
        const ack = (await socket.timeout(30_000).emitWithAck('ticket:message', { ticketId, text: `still there? ${clientMessageId}`, clientMessageId })) as Ack;
        count(`message ${ack.ok ? 'ok' : ack.error.code}`);
        if (ack.ok) ackedMessages.set(clientMessageId, ack.seq as number);
        else if (!['database_unavailable', 'rate_limited'].includes(ack.error.code)) violations.push(`message refused: ${JSON.stringify(ack)}`);
      } catch (error) {
        violations.push(`message got no acknowledgement: ${String(error)}`);
      }
      await pace();
    }
  }

  const loops = [...cluster.nodes.flatMap((node) => [partnerLoop(node), writeLoop(node)]), messageLoop()];
  return {
    violations,
    counts,
    denials,
    ackedWrites,
    ackedMessages,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Every node serves again: ready, its database available, its notifications connected, partner calls allowed, writes projected. */
export async function expectWhole(world: World, label: string): Promise<void> {
  const { cluster, partner } = world;
  for (const node of cluster.nodes) {
    await eventually(async () => {
      const res = await fetch(`${node.url}/readyz`);
      const body = (await res.json()) as { database: string; notifications: string };
      return res.status === 200 && body.database === 'available' && body.notifications === 'connected';
    }, `${label}: readyz 200 with the database available`);
    await eventually(async () => (await fetch(`${node.url}/api/whoami`, { headers: partnerHeaders(partner) })).status === 200, `${label}: a valid partner call allowed`);
    const caller = new Caller(node.url);
    caller.cookies = new Map(partner.caller.cookies);
    const uri = `https://api.example.com/whole/${randomUUID()}`;
    const written = await eventually(async () => {
      const res = await caller.post(`/manage/v1/clients/${partner.clientId}/redirect-uris`, { uri });
      return res.status === 201 ? res : undefined;
    }, `${label}: a new write acknowledged`);
    // the projector (and this node's watcher) follow: the write reaches the read models
    expect(await node.app.ctx.watcher.waitFor(parsePosition(written.body.position)!, 60_000), `${label}: the write projected`).toBe(true);
    const read = await caller.get(`/manage/v1/clients/${partner.clientId}`);
    expect(read.body.redirectUris).toContain(uri);
  }
  // Live support across nodes: the user's message reaches the agent (through the adapter when the
  // agent is elsewhere), once every node's adapter LISTENs again (a resend is not broadcast twice).
  await eventually(
    async () => (await cluster.connections('keyledger-socket.io', { listening: true })) === cluster.nodes.length,
    `${label}: every node's Socket.IO adapter LISTENs`,
  );
  const clientMessageId = `whole-${randomUUID()}`;
  await eventually(async () => {
    const ack = (await world.user.socket.timeout(30_000).emitWithAck('ticket:message', {
      ticketId: world.user.ticketId,
      text: `whole again (${label})`,
      clientMessageId,
    })) as Ack;
    return ack.ok;
  }, `${label}: a support message acknowledged`);
  await eventually(async () => world.agent.seen.has(clientMessageId), `${label}: the agent received it live`);
}

/** After the faults: nothing refused was allowed, and every acknowledged write and message is there. */
export async function expectNothingLost(world: World, traffic: Traffic): Promise<void> {
  expect(traffic.violations).toEqual([]);
  const [first] = world.cluster.nodes;
  const details = await world.partner.caller.get(`/manage/v1/clients/${world.partner.clientId}`);
  const stored = new Set(details.body.redirectUris as string[]);
  expect(traffic.ackedWrites.filter((uri) => !stored.has(uri))).toEqual([]);

  // A rejoin from the start returns every acknowledged message, at the seq it was acknowledged with.
  const found = new Map<string, number>();
  let afterSeq = 0;
  for (;;) {
    const page = (await world.agent.socket.timeout(30_000).emitWithAck('ticket:join', { ticketId: world.user.ticketId, afterSeq })) as Ack;
    if (!page.ok) throw new Error(`ticket:join: ${JSON.stringify(page)}`);
    for (const m of page.messages as { clientMessageId: string; seq: number }[]) found.set(m.clientMessageId, m.seq);
    if (!page.more) break;
    afterSeq = (page.messages as { seq: number }[]).at(-1)!.seq;
  }
  for (const [clientMessageId, seq] of traffic.ackedMessages) expect(found.get(clientMessageId), clientMessageId).toBe(seq);

  // Every refusal that was answered is counted in the decision log (it retries after an outage):
  // repeated denials are kept in full only as samples, but every one is counted.
  await eventually(async () => {
    const counted = await first!.app.ctx.database.db
      .selectFrom('auth_denial_counts')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<string>('count'), eb.lit(0)).as('n'))
      .executeTakeFirstOrThrow();
    if (Number(counted.n) < traffic.denials.length) throw new Error(`counted ${counted.n} of ${traffic.denials.length} answered refusals`);
    return true;
  }, 'every answered refusal counted in the decision log');
}
