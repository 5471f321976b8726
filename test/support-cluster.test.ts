import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from './support/app.ts';
import { connectSocket, connected, emit, next, openTicket, supportSocket, supportUser } from './support-socket.ts';
import { withDateStopped } from './support/clock.ts';
import { ticketStream } from '../src/support/events.ts';

let first: TestApp;
let second: TestApp;
const sockets: Socket[] = [];
const track = (s: Socket) => (sockets.push(s), s);

/** Both nodes' adapters have heard each other's heartbeat (polled; the timeout is a safety net). */
async function clusterFormed(): Promise<void> {
  await vi.waitFor(
    async () => {
      const counts = await Promise.all([first, second].map((t) => t.app.support.namespace.adapter.serverCount()));
      if (!counts.every((n) => n === 2)) throw new Error(`the nodes did not find each other: ${counts.join(', ')}`);
    },
    { timeout: 120_000, interval: 100 },
  );
}

beforeAll(async () => {
  first = await startTestApp();
  second = await startTestApp({ databaseUrl: first.databaseUrl, runProjector: false });
  await clusterFormed();
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await second?.close();
  await first?.close();
});

it('when a user is on one node and an agent on the other, then they see each other’s messages, typing, read marks and presence live', async () => {
  const agentUser = await supportUser(first, { agent: true });
  const user = await supportUser(first);
  const userSocket = track(connectSocket(first.url, user.caller));
  const initialPresence = next(userSocket, 'support:presence');
  await connected(userSocket);
  expect(await initialPresence).toEqual({ agentsOnline: 0 });

  // the agent connects to the other node: the user hears of it
  const agentOnline = next(userSocket, 'support:presence', (p) => p.agentsOnline === 1);
  const agentSocket = track(await supportSocket(second, agentUser.caller));
  expect(await agentOnline).toEqual({ agentsOnline: 1 });

  // a new ticket on node 1 reaches the agent on node 2 (every agent hears every message)
  const seenByAgent = next(agentSocket, 'ticket:message', (m) => m.seq === 1);
  const { ticketId, agentsOnline } = await openTicket(userSocket, { subject: 'Across nodes', message: 'Hello from node 1' });
  expect(agentsOnline).toBe(1);
  expect(await seenByAgent).toMatchObject({ ticketId, text: 'Hello from node 1', authorRole: 'user' });

  const joined = await emit(agentSocket, 'ticket:join', { ticketId });
  expect(joined).toMatchObject({ ok: true, messages: [{ seq: 1, text: 'Hello from node 1' }] });

  // agent → user
  const typingAtUser = next(userSocket, 'ticket:typing');
  await emit(agentSocket, 'ticket:typing', { ticketId });
  expect(await typingAtUser).toEqual({ ticketId, author: agentUser.sub, authorRole: 'agent' });
  const answerAtUser = next(userSocket, 'ticket:message', (m) => m.seq === 2);
  expect(await emit(agentSocket, 'ticket:message', { ticketId, text: 'Hello from node 2', clientMessageId: 'n2-1' })).toMatchObject({ ok: true, seq: 2 });
  expect(await answerAtUser).toMatchObject({ text: 'Hello from node 2', author: agentUser.sub, authorRole: 'agent' });

  // user → agent
  const typingAtAgent = next(agentSocket, 'ticket:typing');
  await emit(userSocket, 'ticket:typing', { ticketId });
  expect(await typingAtAgent).toEqual({ ticketId, author: user.sub, authorRole: 'user' });
  const readAtAgent = next(agentSocket, 'ticket:read');
  await emit(userSocket, 'ticket:read', { ticketId, seq: 2 });
  expect(await readAtAgent).toEqual({ ticketId, seq: 2, reader: user.sub, readerRole: 'user' });
  const readAtUser = next(userSocket, 'ticket:read');
  const replyAtAgent = next(agentSocket, 'ticket:message', (m) => m.seq === 3);
  expect(await emit(userSocket, 'ticket:message', { ticketId, text: 'Thanks, node 2', clientMessageId: 'n1-2' })).toMatchObject({ ok: true, seq: 3 });
  expect(await replyAtAgent).toMatchObject({ text: 'Thanks, node 2' });
  await emit(agentSocket, 'ticket:read', { ticketId, seq: 3 });
  expect(await readAtUser).toEqual({ ticketId, seq: 3, reader: agentUser.sub, readerRole: 'agent' });

  // status changes travel too
  const resolvedAtUser = next(userSocket, 'ticket:updated', (u) => u.status === 'resolved');
  await emit(agentSocket, 'ticket:status', { ticketId, status: 'resolved' });
  expect(await resolvedAtUser).toMatchObject({ ticketId, status: 'resolved', assignee: agentUser.sub });

  // the agent leaves node 2: the user on node 1 sees nobody is online
  const agentGone = next(userSocket, 'support:presence', (p) => p.agentsOnline === 0);
  agentSocket.disconnect();
  expect(await agentGone).toEqual({ agentsOnline: 0 });
});

it('when a user logs out on one node, then their sockets on every node are disconnected', async () => {
  const user = await supportUser(first);
  const onFirst = track(await supportSocket(first, user.caller));
  const onSecond = track(await supportSocket(second, user.caller));
  const gone = Promise.all([onFirst, onSecond].map((s) => new Promise<string>((resolve) => s.once('disconnect', resolve))));
  expect((await user.caller.post('/manage/v1/account/logout')).status).toBe(204);
  expect(await gone).toEqual(['io server disconnect', 'io server disconnect']);
});

it('when the reconnecting user lands on the other node, then afterSeq catches up there', async () => {
  const agentUser = await supportUser(first, { agent: true });
  const user = await supportUser(first);
  let userSocket = track(await supportSocket(first, user.caller));
  const agentSocket = track(await supportSocket(first, agentUser.caller));
  const { ticketId } = await openTicket(userSocket);
  userSocket.disconnect();
  for (let i = 0; i < 3; i++) await emit(agentSocket, 'ticket:message', { ticketId, text: `missed ${i}`, clientMessageId: `m-${i}` });
  userSocket = track(await supportSocket(second, user.caller));
  const caught = await emit(userSocket, 'ticket:join', { ticketId, afterSeq: 1 });
  expect(caught.ok && caught.messages.map((m: any) => m.text)).toEqual(['missed 0', 'missed 1', 'missed 2']);
});

/** An agent of capacity 1 with a socket on each node, and four tickets nobody has yet. */
async function agentOfCapacityOne(name: string) {
  const agentUser = await supportUser(first, { agent: true, name });
  const customer = await supportUser(first);
  const customerSocket = track(await supportSocket(first, customer.caller));
  const onFirst = track(await supportSocket(first, agentUser.caller));
  const onSecond = track(await supportSocket(second, agentUser.caller));
  expect(await emit(onFirst, 'desk:capacity', { capacity: 1 })).toMatchObject({ ok: true, capacity: 1 });
  const tickets: string[] = [];
  for (let i = 0; i < 4; i++) tickets.push((await openTicket(customerSocket, { subject: `${name} ${i}` })).ticketId);
  return { agentUser, customerSocket, onFirst, onSecond, tickets };
}

it('when tickets are assigned to an agent of capacity 1 at the same moment from two nodes, then exactly one wins and the others are over_capacity', async () => {
  const { onFirst, onSecond, tickets } = await agentOfCapacityOne('Single Agent');
  // two from each node, all sent before any is answered
  const results = await Promise.all(tickets.map((ticketId, i) => emit(i % 2 === 0 ? onFirst : onSecond, 'ticket:assign', { ticketId })));
  expect(results.filter((r) => r.ok)).toHaveLength(1);
  for (const refused of results.filter((r) => !r.ok)) {
    expect(refused).toMatchObject({ ok: false, error: { code: 'over_capacity', message: expect.stringContaining('capacity is 1') } });
  }
  const mine = await emit(onSecond, 'desk:list', { scope: 'mine' });
  expect(mine).toMatchObject({ ok: true, counts: { mine: 1 } });
});

it('when an agent of capacity 1 answers four tickets nobody has at the same moment from two nodes, then every answer is delivered and exactly one answer took its ticket', async () => {
  const { agentUser, customerSocket, onFirst, onSecond, tickets } = await agentOfCapacityOne('Quick Agent');
  const delivered = tickets.map((ticketId) => next(customerSocket, 'ticket:message', (m) => m.ticketId === ticketId && m.authorRole === 'agent'));
  const acks = await Promise.all(
    tickets.map((ticketId, i) => emit(i % 2 === 0 ? onFirst : onSecond, 'ticket:message', { ticketId, text: `first answer ${i}`, clientMessageId: `rush-${i}` })),
  );
  expect(acks.every((a) => a.ok)).toBe(true);
  await Promise.all(delivered);
  const joined = await Promise.all(tickets.map((ticketId) => emit(onSecond, 'ticket:join', { ticketId })));
  expect(joined.filter((j) => j.ok && j.ticket.assignee === agentUser.sub)).toHaveLength(1);
  expect(joined.filter((j) => j.ok && j.ticket.assignee === null)).toHaveLength(3);
  expect(await emit(onFirst, 'desk:list', { scope: 'mine' })).toMatchObject({ ok: true, counts: { mine: 1 } });
});

it('when the customer and the agent answer each other from two nodes, then each node decides from what the other told it: no stream is read, nothing conflicts', async () => {
  const agentUser = await supportUser(first, { agent: true });
  const user = await supportUser(first);
  const userSocket = track(await supportSocket(first, user.caller));
  const agentSocket = track(await supportSocket(second, agentUser.caller));
  // every agent hears a new ticket's first message; its report to node 2 came ahead of it
  const heardOpening = next(agentSocket, 'ticket:message', (m) => m.seq === 1 && m.text === 'Taking turns');
  const { ticketId } = await openTicket(userSocket, { subject: 'Taking turns', message: 'Taking turns' });
  await heardOpening;
  const stream = ticketStream(ticketId);
  const reads = [first, second].map((node) => vi.spyOn(node.app.ctx.store, 'readStream'));
  const readsOf = () => reads.map((spy) => spy.mock.calls.filter(([s]) => s === stream).length);
  const conflicts: string[] = [];
  for (const node of [first, second]) {
    node.app.ctx.store.appendReports.on('append', (r) => {
      if (r.outcome === 'conflict' && r.stream === stream) conflicts.push(r.stream);
    });
  }
  try {
    await emit(agentSocket, 'ticket:join', { ticketId });
    for (let i = 0; i < 4; i++) {
      // each answers once the other's message has arrived, as people do
      const atUser = next(userSocket, 'ticket:message', (m) => m.text === `agent ${i}`);
      expect(await emit(agentSocket, 'ticket:message', { ticketId, text: `agent ${i}`, clientMessageId: `turn-a${i}` })).toMatchObject({ ok: true, seq: 2 + 2 * i });
      await atUser;
      const atAgent = next(agentSocket, 'ticket:message', (m) => m.text === `user ${i}`);
      expect(await emit(userSocket, 'ticket:message', { ticketId, text: `user ${i}`, clientMessageId: `turn-u${i}` })).toMatchObject({ ok: true, seq: 3 + 2 * i });
      await atAgent;
    }
    // node 1 opened the ticket (its cache began there); node 2 cached it from the opening's report
    expect(readsOf()).toEqual([0, 0]);
    expect(conflicts).toEqual([]);
  } finally {
    for (const spy of reads) spy.mockRestore();
  }
});

it('when a user spreads their messages over two nodes, then each node counts the other’s too and refuses the message past the limit', async () => {
  await withDateStopped(async () => {
    const user = await supportUser(first);
    const onFirst = track(await supportSocket(first, user.caller));
    const onSecond = track(await supportSocket(second, user.caller));
    const { ticketId } = await openTicket(onFirst, { subject: 'Spread out' }); // 1 of the 10
    // the user's socket on node 2 hears the 10th message: node 2 has had every report (they come ahead of the message)
    const tenthOnSecond = next(onSecond, 'ticket:message', (m) => m.ticketId === ticketId && m.seq === 10);
    for (let i = 0; i < 9; i++) expect(await emit(onFirst, 'ticket:message', { ticketId, text: `m${i}`, clientMessageId: `spread-${i}` })).toMatchObject({ ok: true });
    await tenthOnSecond;
    // node 2 stored none of them itself, and refuses the 11th
    const refused = await emit(onSecond, 'ticket:message', { ticketId, text: 'past the limit', clientMessageId: 'spread-x' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'rate_limited', message: expect.stringMatching(/at most 10 in 10 seconds/) } });
    expect(await emit(onFirst, 'ticket:message', { ticketId, text: 'refused too', clientMessageId: 'spread-z' })).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    // nothing refused was stored
    const joined = await emit(onFirst, 'ticket:join', { ticketId });
    expect(joined.ok && joined.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

it('when an agent at capacity answers a ticket nobody has, then the answer reaches the customer and the ticket stays in the queue (the first answer takes a ticket only within capacity)', async () => {
  const agentUser = await supportUser(first, { agent: true, name: 'Busy Agent' });
  const customer = await supportUser(first);
  const customerSocket = track(await supportSocket(first, customer.caller));
  const agentSocket = track(await supportSocket(second, agentUser.caller));
  expect(await emit(agentSocket, 'desk:capacity', { capacity: 1 })).toMatchObject({ ok: true, capacity: 1 });
  const { ticketId: firstTicket } = await openTicket(customerSocket, { subject: 'first' });
  const { ticketId: secondTicket } = await openTicket(customerSocket, { subject: 'second' });

  expect(await emit(agentSocket, 'ticket:message', { ticketId: firstTicket, text: 'on it', clientMessageId: 'cap-1' })).toMatchObject({ ok: true });
  const answer = next(customerSocket, 'ticket:message', (m) => m.ticketId === secondTicket && m.text === 'me too');
  expect(await emit(agentSocket, 'ticket:message', { ticketId: secondTicket, text: 'me too', clientMessageId: 'cap-2' })).toMatchObject({ ok: true });
  expect(await answer).toMatchObject({ authorRole: 'agent' });

  const joined = await Promise.all([firstTicket, secondTicket].map((ticketId) => emit(agentSocket, 'ticket:join', { ticketId })));
  expect(joined.map((j) => j.ok && j.ticket.assignee)).toEqual([agentUser.sub, null]);
  expect(await emit(agentSocket, 'desk:list', { scope: 'mine' })).toMatchObject({ ok: true, counts: { mine: 1 } });
});
