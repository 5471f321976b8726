import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from './support/app.ts';
import { emit, openTicket, supportSocket, supportUser } from './support-socket.ts';

/**
 * Capacity when the read model is late: writes answer after WRITE_WAIT_MS even if the projector
 * has not caught up (here it is held up on purpose, by a lock on its table).
 */
let t: TestApp;
const sockets: Socket[] = [];
beforeAll(async () => {
  t = await startTestApp({ env: { WRITE_WAIT_MS: '50' } });
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await t?.close();
});

/** An agent and a customer, each with a socket (closed after the file). */
async function agentAndCustomer() {
  const agentUser = await supportUser(t, { agent: true });
  const customer = await supportUser(t);
  const agentSocket = await supportSocket(t, agentUser.caller);
  const customerSocket = await supportSocket(t, customer.caller);
  sockets.push(agentSocket, customerSocket);
  return { agentUser, agentSocket, customerSocket };
}

it('when an assignment was answered before the read model had it, then the next assignment to that agent is not counted against a stale load: refused until the read model catches up, then over_capacity', async () => {
  const { agentUser, agentSocket, customerSocket } = await agentAndCustomer();
  expect(await emit(agentSocket, 'desk:capacity', { capacity: 1 })).toMatchObject({ ok: true });
  const tickets = [];
  for (let i = 0; i < 2; i++) tickets.push((await openTicket(customerSocket, { subject: `late ${i}` })).ticketId);
  // everything so far is in the read model
  expect(await t.app.ctx.watcher.waitFor(await t.app.ctx.store.headPosition(), 120_000)).toBe(true);

  // hold the projector up: it cannot write tickets while this transaction holds the table
  const holder = new pg.Client({ connectionString: t.databaseUrl });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE rm.tickets IN SHARE ROW EXCLUSIVE MODE');
    // stored, answered after WRITE_WAIT_MS without the read model having it
    expect(await emit(agentSocket, 'ticket:assign', { ticketId: tickets[0] })).toMatchObject({ ok: true });
    // the read model still shows a load of 0: counting it would give the agent a second ticket
    expect(await emit(agentSocket, 'ticket:assign', { ticketId: tickets[1] })).toMatchObject({ ok: false, error: { code: 'database_unavailable' } });
    await holder.query('ROLLBACK');
  } finally {
    await holder.end();
  }
  // the first assignment left its place in the log as the agent's mark: what the second waited for
  const mark = await t.app.ctx.database.pool.query<{ commit: string; prepare: string }>(
    'SELECT commit_position::text AS commit, prepare_position::text AS prepare FROM support_assignment_marks WHERE sub = $1',
    [agentUser.sub],
  );
  const assigned = await t.app.ctx.database.pool.query<{ commit: string; prepare: string }>(
    `SELECT transaction_id::text AS commit, global_position::text AS prepare FROM events WHERE stream_id = $1 AND type = 'TicketAssigned'`,
    [`ticket-${tickets[0]}`],
  );
  expect(mark.rows).toEqual(assigned.rows);
  // caught up: the first assignment counts
  expect(await t.app.ctx.watcher.waitFor(await t.app.ctx.store.headPosition(), 120_000)).toBe(true);
  expect(await emit(agentSocket, 'ticket:assign', { ticketId: tickets[1] })).toMatchObject({ ok: false, error: { code: 'over_capacity' } });
  expect(await emit(agentSocket, 'desk:list', { scope: 'mine' })).toMatchObject({ ok: true, counts: { mine: 1 } });
}, 180_000);

it('when the agent’s assignment lock fails, then their first answer is still delivered and stored once, and the ticket stays in the queue', async () => {
  const { agentUser, agentSocket, customerSocket } = await agentAndCustomer();
  const { ticketId } = await openTicket(customerSocket, { subject: 'lockless' });
  // the lock's round trip reads the agent's mark: without its table, it fails
  await t.app.ctx.database.pool.query('ALTER TABLE support_assignment_marks RENAME TO support_assignment_marks_away');
  try {
    const delivered = new Promise<{ text: string }>((resolve) =>
      customerSocket.on('ticket:message', (m: { ticketId: string; authorRole: string; text: string }) => m.ticketId === ticketId && m.authorRole === 'agent' && resolve(m)),
    );
    expect(await emit(agentSocket, 'ticket:message', { ticketId, text: 'here to help', clientMessageId: 'lockless-1' })).toMatchObject({ ok: true, seq: 2 });
    expect(await delivered).toMatchObject({ text: 'here to help' });
  } finally {
    await t.app.ctx.database.pool.query('ALTER TABLE support_assignment_marks_away RENAME TO support_assignment_marks');
  }
  const joined = await emit(agentSocket, 'ticket:join', { ticketId });
  expect(joined).toMatchObject({ ok: true, ticket: { assignee: null } });
  expect(joined.ok && joined.messages.map((m: { text: string }) => m.text)).toEqual(['Since this morning every call is 401.', 'here to help']);
  expect(t.logs.join('')).toContain('the answer is posted on its own');
}, 60_000);

it('when the ticket was taken when the agent looked but is nobody’s when their answer is decided (handed back in between), then the answer is posted and the take follows as its own command', async () => {
  const { agentUser, agentSocket, customerSocket } = await agentAndCustomer();
  const { ticketId } = await openTicket(customerSocket, { subject: 'handed back meanwhile' });
  // the look before the answer sees the ticket as another agent's (what a hand-back in between leaves behind)
  const { commands } = t.app.ctx;
  const look = commands.peek.bind(commands);
  const peek = vi.spyOn(commands, 'peek').mockImplementationOnce(async (stream, aggregate) => ({ ...((await look(stream, aggregate)) as object), assignee: 424_242 }) as never);
  try {
    expect(await emit(agentSocket, 'ticket:message', { ticketId, text: 'mine after all', clientMessageId: 'meanwhile-1' })).toMatchObject({ ok: true, seq: 2 });
  } finally {
    peek.mockRestore();
  }
  expect(await emit(agentSocket, 'ticket:join', { ticketId })).toMatchObject({ ok: true, ticket: { assignee: agentUser.sub } });
  // two appends: the answer, then its take
  const events = await t.app.ctx.database.pool.query<{ type: string; tx: string }>(
    'SELECT type, transaction_id::text AS tx FROM events WHERE stream_id = $1 ORDER BY stream_revision',
    [`ticket-${ticketId}`],
  );
  expect(events.rows.map((e) => e.type)).toEqual(['TicketOpened', 'TicketMessagePosted', 'TicketMessagePosted', 'TicketAssigned']);
  expect(events.rows[3]!.tx).not.toBe(events.rows[2]!.tx);
}, 60_000);
