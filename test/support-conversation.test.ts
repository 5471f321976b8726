import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { openDatabase } from '../src/db/database.ts';
import { createPostgresEventStore } from '../src/eventstore/postgres.ts';
import { rebuildReadModels } from '../projections/rebuild.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { dumpReadModels } from './support/read-models.ts';
import { signUp } from './support/http.ts';
import { connectSocket, connected, emit, next, openTicket, record, sentinel, supportSocket, supportUser } from './support-socket.ts';

let t: TestApp;
const sockets: Socket[] = [];
const track = (s: Socket) => (sockets.push(s), s);

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await t?.close();
  // nothing went wrong on the way: no error, no support warning (e.g. an unprojected write)
  const bad = t.logs.filter((line) => /"level":(50|60)/.test(line) || (/"level":40/.test(line) && /"component":"support"/.test(line)));
  expect(bad).toEqual([]);
});

async function query<T = any>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: t.databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('the handshake', () => {
  it('when a socket connects without a session, then it is refused with login_required', async () => {
    const socket = track(connectSocket(t.url));
    const error = await new Promise<Error & { data?: any }>((resolve) => socket.once('connect_error', resolve));
    expect(error.message).toBe('login_required');
    expect(error.data.message).toEqual({
      en: 'You must be logged in to start a support ticket',
      nl: 'Je moet ingelogd zijn om een supportticket te starten',
    });
    expect(socket.connected).toBe(false);
  });

  it('when the session cookie is unknown or malformed, then it is refused with login_required', async () => {
    for (const cookie of ['kl_session=not-a-session', 'kl_session=' + 'x'.repeat(500), 'kl_session', '%%%;;;=']) {
      const socket = track(connectSocket(t.url, undefined, { headers: { cookie } }));
      const error = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
      expect(error.message).toBe('login_required');
    }
  });

  it('when a page on another origin opens a socket with the cookie, then it is refused', async () => {
    const { caller } = await supportUser(t);
    const socket = track(connectSocket(t.url, caller, { headers: { origin: 'https://evil.example' } }));
    const error = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
    expect(error.message).toBe('origin_not_allowed');
    const same = track(connectSocket(t.url, caller, { headers: { origin: t.url } }));
    await connected(same);
  });
});

describe('a conversation between a user and an agent', () => {
  it('when a user opens a ticket and an agent answers, then both see every message live, in order, and the read models hold it', async () => {
    const agentUser = await supportUser(t, { agent: true });
    const user = await supportUser(t, { name: 'Grace Hopper' });
    const userSocket = track(connectSocket(t.url, user.caller));
    // no agent yet: the user is told the question will be answered later
    const presenceBefore = next(userSocket, 'support:presence');
    await connected(userSocket);
    expect(await presenceBefore).toEqual({ agentsOnline: 0 });

    const opened = await openTicket(userSocket, { subject: 'Secret rotation', group: 'oauth-api', message: 'Is my old secret still valid?' });
    expect(opened).toMatchObject({ ok: true, seq: 1, duplicate: false, agentsOnline: 0 });
    expect(opened.ticketId).toMatch(/^tk_[A-Za-z0-9_-]{22}$/);
    const ticketId = opened.ticketId as string;

    // the agent comes online: the user sees it
    const presence = next(userSocket, 'support:presence', (p) => p.agentsOnline === 1);
    const agentSocket = track(await supportSocket(t, agentUser.caller));
    expect(await presence).toEqual({ agentsOnline: 1 });

    // the queue shows the unassigned open ticket, with the opener's name
    const queue = await emit(agentSocket, 'ticket:list', { scope: 'queue' });
    expect(queue.ok).toBe(true);
    const queued = (queue as any).tickets.find((x: any) => x.ticketId === ticketId);
    expect(queued).toMatchObject({ subject: 'Secret rotation', group: 'oauth-api', status: 'open', assignee: null, openedBy: user.sub, openedByName: 'Grace Hopper' });

    const joined = await emit(agentSocket, 'ticket:join', { ticketId });
    expect(joined).toMatchObject({ ok: true, more: false });
    expect((joined as any).messages).toEqual([
      expect.objectContaining({ ticketId, seq: 1, author: user.sub, authorRole: 'user', text: 'Is my old secret still valid?' }),
    ]);

    // typing and read marks reach the other side
    const typing = next(userSocket, 'ticket:typing');
    expect(await emit(agentSocket, 'ticket:typing', { ticketId })).toEqual({ ok: true });
    expect(await typing).toEqual({ ticketId, author: agentUser.sub, authorRole: 'agent' });
    const read = next(userSocket, 'ticket:read');
    expect(await emit(agentSocket, 'ticket:read', { ticketId, seq: 1 })).toEqual({ ok: true });
    expect(await read).toEqual({ ticketId, seq: 1, reader: agentUser.sub, readerRole: 'agent' });

    // the agent answers: the user gets it live; the ticket is now the agent's
    const answerSeen = next(userSocket, 'ticket:message', (m) => m.ticketId === ticketId);
    const updated = next(userSocket, 'ticket:updated', (u) => u.ticketId === ticketId && u.assignee === agentUser.sub);
    const answer = await emit(agentSocket, 'ticket:message', { ticketId, text: 'It stays valid for the grace period.', clientMessageId: 'a-1' });
    expect(answer).toMatchObject({ ok: true, ticketId, seq: 2, duplicate: false });
    expect(await answerSeen).toMatchObject({ ticketId, seq: 2, author: agentUser.sub, authorRole: 'agent', text: 'It stays valid for the grace period.' });
    expect(await updated).toMatchObject({ status: 'open', assignee: agentUser.sub, lastSeq: 2 });

    // the user replies: the agent gets it live
    const replySeen = next(agentSocket, 'ticket:message', (m) => m.ticketId === ticketId && m.seq === 3);
    const reply = await emit(userSocket, 'ticket:message', { ticketId, text: 'Thanks, <b>that</b> helps & works.', clientMessageId: 'u-1' });
    expect(reply).toMatchObject({ ok: true, seq: 3 });
    expect(await replySeen).toMatchObject({ author: user.sub, authorRole: 'user', text: 'Thanks, <b>that</b> helps & works.' });

    // the agent resolves it; a new user message reopens it
    const resolved = await emit(agentSocket, 'ticket:status', { ticketId, status: 'resolved' });
    expect(resolved).toMatchObject({ ok: true, ticket: { status: 'resolved' } });
    const reopened = next(agentSocket, 'ticket:updated', (u) => u.ticketId === ticketId && u.status === 'open');
    expect(await emit(userSocket, 'ticket:message', { ticketId, text: 'One more thing…', clientMessageId: 'u-2' })).toMatchObject({ ok: true, seq: 4 });
    expect(await reopened).toMatchObject({ status: 'open', lastSeq: 4 });
    expect(await emit(agentSocket, 'ticket:status', { ticketId, status: 'resolved' })).toMatchObject({ ok: true });
    expect(await emit(userSocket, 'ticket:rate', { ticketId, rating: 5 })).toMatchObject({ ok: true, ticket: { rating: 5 } });

    // everything is in the read models, from the events
    const [row] = await query('SELECT * FROM rm.tickets WHERE ticket_id = $1', [ticketId]);
    expect(row).toMatchObject({ subject: 'Secret rotation', support_group: 'oauth-api', client_id: null, status: 'resolved', opened_by: user.sub, assignee: agentUser.sub, last_seq: 4, rating: 5 });
    expect(row.first_response_at).toBeInstanceOf(Date);
    expect(row.first_response_at.getTime()).toBeGreaterThan(row.opened_at.getTime());
    const messages = await query('SELECT seq, author, author_role, text, client_message_id FROM rm.ticket_messages WHERE ticket_id = $1 ORDER BY seq', [ticketId]);
    expect(messages.map((m) => [m.seq, m.author_role, m.text])).toEqual([
      [1, 'user', 'Is my old secret still valid?'],
      [2, 'agent', 'It stays valid for the grace period.'],
      [3, 'user', 'Thanks, <b>that</b> helps & works.'],
      [4, 'user', 'One more thing…'],
    ]);
    const events = await query('SELECT type, transaction_id::text AS tx, global_position::text AS pos FROM events WHERE stream_id = $1 ORDER BY stream_revision', [`ticket-${ticketId}`]);
    expect(events.map((e) => e.type)).toEqual([
      'TicketOpened',
      'TicketMessagePosted',
      'TicketMessagePosted', // the first agent answer and its take (within the agent's capacity): one append
      'TicketAssigned',
      'TicketMessagePosted',
      'TicketStatusChanged',
      'TicketMessagePosted',
      'TicketStatusChanged',
      'TicketStatusChanged',
      'TicketRated',
    ]);
    expect(events[2].tx).toBe(events[3].tx);
    // the take left its place in the log as the agent's mark, for their next assignment to wait for
    const [mark] = await query('SELECT commit_position::text AS tx, prepare_position::text AS pos FROM support_assignment_marks WHERE sub = $1', [agentUser.sub]);
    expect(mark).toEqual({ tx: events[3].tx, pos: events[3].pos });
    // support conversations stay out of the audit log (user content, own read models)
    expect(await query("SELECT 1 FROM rm.audit_log WHERE stream LIKE 'ticket-%'")).toEqual([]);

    // the user's list shows their ticket; an agent's 'assigned' scope too
    const mine = await emit(userSocket, 'ticket:list');
    expect((mine as any).tickets.map((x: any) => x.ticketId)).toContain(ticketId);
    expect((mine as any).tickets[0].openedByName).toBeUndefined();
  });

  it("when another user asks for someone's ticket, then it is ticket_not_found, as for an unknown ticket", async () => {
    const owner = await supportUser(t);
    const stranger = await supportUser(t);
    const ownerSocket = track(await supportSocket(t, owner.caller));
    const strangerSocket = track(await supportSocket(t, stranger.caller));
    const { ticketId } = await openTicket(ownerSocket);
    const leaked = { typing: record(ownerSocket, 'ticket:typing'), read: record(ownerSocket, 'ticket:read'), messages: record(ownerSocket, 'ticket:message') };
    const unknown = 'tk_AAAAAAAAAAAAAAAAAAAAAA';
    for (const [event, payload] of [
      ['ticket:join', { ticketId }],
      ['ticket:message', { ticketId, text: 'let me in', clientMessageId: 's-1' }],
      ['ticket:typing', { ticketId }],
      ['ticket:read', { ticketId, seq: 1 }],
      ['ticket:rate', { ticketId, rating: 1 }],
      ['ticket:join', { ticketId: unknown }],
      ['ticket:message', { ticketId: unknown, text: 'hello', clientMessageId: 's-2' }],
    ] as const) {
      const ack = await emit(strangerSocket, event, payload);
      expect(ack, `${event} ${JSON.stringify(payload)}`).toEqual({ ok: false, error: { code: 'ticket_not_found', message: 'there is no such ticket' } });
    }
    const list = await emit(strangerSocket, 'ticket:list', { scope: 'all' });
    expect((list as any).tickets).toEqual([]);
    // the owner's second tab marks the ticket read: once the first tab hears that, anything the
    // stranger's attempts had sent it would have arrived before
    const ownerTab = track(await supportSocket(t, owner.caller));
    expect(await emit(ownerTab, 'ticket:join', { ticketId })).toMatchObject({ ok: true });
    await sentinel(ownerTab, ownerSocket, ticketId);
    expect(leaked.typing).toEqual([]);
    expect(leaked.read.filter((r) => r.reader !== owner.sub)).toEqual([]);
    expect(leaked.messages.filter((m) => m.seq !== 1)).toEqual([]);
  });
});

describe('never losing a message', () => {
  it('when a browser drops and reconnects, then ticket:join with afterSeq returns exactly what it missed, oldest first', async () => {
    const agentUser = await supportUser(t, { agent: true });
    const user = await supportUser(t);
    let userSocket = track(await supportSocket(t, user.caller));
    const agentSocket = track(await supportSocket(t, agentUser.caller));
    const { ticketId } = await openTicket(userSocket);
    await emit(agentSocket, 'ticket:join', { ticketId });
    const seen = await emit(agentSocket, 'ticket:message', { ticketId, text: 'first answer', clientMessageId: 'r-1' });
    expect(seen).toMatchObject({ ok: true, seq: 2 });

    userSocket.disconnect();
    for (let i = 0; i < 5; i++) {
      expect(await emit(agentSocket, 'ticket:message', { ticketId, text: `while you were away ${i}`, clientMessageId: `r-${i + 2}` })).toMatchObject({ ok: true, seq: 3 + i });
    }

    userSocket = track(await supportSocket(t, user.caller));
    const caughtUp = await emit(userSocket, 'ticket:join', { ticketId, afterSeq: 2 });
    expect(caughtUp.ok).toBe(true);
    expect((caughtUp as any).messages.map((m: any) => [m.seq, m.text])).toEqual([0, 1, 2, 3, 4].map((i) => [3 + i, `while you were away ${i}`]));
    // and after the join it is live again
    const live = next(userSocket, 'ticket:message', (m) => m.seq === 8);
    await emit(agentSocket, 'ticket:message', { ticketId, text: 'welcome back', clientMessageId: 'r-8' });
    expect(await live).toMatchObject({ text: 'welcome back' });
    const nothingMissed = await emit(userSocket, 'ticket:join', { ticketId, afterSeq: 8 });
    expect((nothingMissed as any).messages).toEqual([]);
  });

  it('when the server sends a socket a long message and then a read mark, then they arrive in that order', async () => {
    // A message over 8,000 bytes travels between nodes as an attachment (an INSERT, then the
    // NOTIFY); this node's own sockets must not wait for that, nor be overtaken by what follows.
    const agentUser = await supportUser(t, { agent: true });
    const user = await supportUser(t);
    const userSocket = track(await supportSocket(t, user.caller));
    const agentSocket = track(await supportSocket(t, agentUser.caller));
    const { ticketId } = await openTicket(userSocket);
    await emit(agentSocket, 'ticket:join', { ticketId });
    const order: string[] = [];
    agentSocket.on('ticket:message', (m: { seq: number }) => order.push(`message ${m.seq}`));
    agentSocket.on('ticket:read', (r: { seq: number }) => order.push(`read ${r.seq}`));
    for (let i = 0; i < 5; i++) {
      const sent = await emit(userSocket, 'ticket:message', { ticketId, text: '😀'.repeat(4_000), clientMessageId: `long-${i}` });
      expect(sent).toMatchObject({ ok: true, seq: 2 + i });
      const marked = next(agentSocket, 'ticket:read', (r) => r.seq === 2 + i);
      await emit(userSocket, 'ticket:read', { ticketId, seq: 2 + i });
      await marked;
    }
    expect(order.filter((e) => e !== 'message 1')).toEqual([2, 3, 4, 5, 6].flatMap((seq) => [`message ${seq}`, `read ${seq}`]));
  });

  it('when a message is resent with the same clientMessageId, then it is stored once and acknowledged with its original seq', async () => {
    const agentUser = await supportUser(t, { agent: true });
    const user = await supportUser(t);
    const userSocket = track(await supportSocket(t, user.caller));
    const agentSocket = track(await supportSocket(t, agentUser.caller));
    const { ticketId } = await openTicket(userSocket);
    await emit(agentSocket, 'ticket:join', { ticketId });
    const received = record(agentSocket, 'ticket:message');

    const payload = { ticketId, text: 'Are you there?', clientMessageId: 'resend-me' };
    const first = await emit(userSocket, 'ticket:message', payload);
    const again = await emit(userSocket, 'ticket:message', payload);
    expect(first).toMatchObject({ ok: true, seq: 2, duplicate: false });
    expect(again).toMatchObject({ ok: true, seq: 2, duplicate: true });
    // two resends racing each other (a timeout fired while the first was still in flight)
    const racing = await Promise.all([1, 2, 3].map(() => emit(userSocket, 'ticket:message', { ...payload, clientMessageId: 'racing' })));
    expect(racing.map((r: any) => r.seq)).toEqual([3, 3, 3]);
    expect(racing.filter((r: any) => r.duplicate === false)).toHaveLength(1);

    await sentinel(userSocket, agentSocket, ticketId);
    // (the opening message may arrive after the join: only what was sent after it counts)
    expect(received.map((m) => m.seq).filter((seq) => seq > 1)).toEqual([2, 3]);
    const rows = await query('SELECT seq FROM rm.ticket_messages WHERE ticket_id = $1 ORDER BY seq', [ticketId]);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);

    // opening is idempotent too: the same clientMessageId names the same ticket
    const open = { subject: 'Once', group: 'billing', message: 'Only once please', clientMessageId: 'open-once' };
    const a = await emit(userSocket, 'ticket:open', open);
    const b = await emit(userSocket, 'ticket:open', open);
    expect(a).toMatchObject({ ok: true, duplicate: false });
    expect(b).toMatchObject({ ok: true, duplicate: true, ticketId: (a as any).ticketId });
    expect(await query('SELECT 1 FROM rm.tickets WHERE ticket_id = $1', [(a as any).ticketId])).toHaveLength(1);
  });
});

describe('sessions', () => {
  it('when the user logs out, then their socket is disconnected at once, and a new one is refused', async () => {
    const user = await supportUser(t);
    const socket = track(await supportSocket(t, user.caller));
    const other = await supportUser(t);
    const otherSocket = track(await supportSocket(t, other.caller));
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    const cookie = [...user.caller.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    expect((await user.caller.post('/manage/v1/account/logout')).status).toBe(204);
    expect(await disconnected).toBe('io server disconnect');
    // only that session's sockets
    expect(otherSocket.connected).toBe(true);
    const again = track(connectSocket(t.url, undefined, { headers: { cookie } }));
    const error = await new Promise<Error>((resolve) => again.once('connect_error', resolve));
    expect(error.message).toBe('login_required');
  });
});

describe('support agents', () => {
  it('when `keyledger staff grant <email>` runs, then the account is a support_agent and the grant is an event', async () => {
    const user = await signUp(t.url, { plan: null });
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['bin/keyledger.js', ...args], { env: { ...process.env, DATABASE_URL: t.databaseUrl } });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const granted = await run(['staff', 'grant', user.email.toUpperCase()]);
    expect(granted.code, granted.out).toBe(0);
    expect(granted.out).toContain('is a support_agent');
    const [row] = await query('SELECT staff_role FROM users WHERE sub = $1', [user.sub]);
    expect(row.staff_role).toBe('support_agent');
    // the account's stream starts with its registration; the grant follows it
    const events = (await query('SELECT type, data, metadata FROM events WHERE stream_id = $1 ORDER BY stream_revision', [`user-${user.sub}`])).filter(
      (e) => e.type !== 'UserRegistered',
    );
    expect(events).toEqual([expect.objectContaining({ type: 'StaffRoleGranted', data: { sub: user.sub, role: 'support_agent' } })]);
    expect(events[0].metadata.actor).toBe('cli');

    // an agent sees every ticket
    const customer = await supportUser(t);
    const { ticketId } = await openTicket(track(await supportSocket(t, customer.caller)));
    const agentSocket = track(await supportSocket(t, user.caller));
    expect(await emit(agentSocket, 'ticket:join', { ticketId })).toMatchObject({ ok: true });

    const unknown = await run(['staff', 'grant', 'nobody@example.com']);
    expect(unknown.code, unknown.out).toBe(1);
    expect(unknown.out).toContain('no account with the email nobody@example.com');
    const revoked = await run(['staff', 'revoke', user.email]);
    expect(revoked.code, revoked.out).toBe(0);
    expect((await query('SELECT type FROM events WHERE stream_id = $1 ORDER BY stream_revision', [`user-${user.sub}`])).map((e) => e.type)).toEqual([
      'UserRegistered',
      'StaffRoleGranted',
      'StaffRoleRevoked',
    ]);
  }, 180_000);

  it('when an agent assigns a ticket to a non-agent, then it is refused; to themselves or back to the queue, it works', async () => {
    const agentUser = await supportUser(t, { agent: true });
    const user = await supportUser(t);
    const userSocket = track(await supportSocket(t, user.caller));
    const agentSocket = track(await supportSocket(t, agentUser.caller));
    const { ticketId } = await openTicket(userSocket);
    expect(await emit(agentSocket, 'ticket:assign', { ticketId, assignee: user.sub })).toMatchObject({ ok: false, error: { code: 'assignee_not_agent' } });
    expect(await emit(agentSocket, 'ticket:assign', { ticketId })).toMatchObject({ ok: true, ticket: { assignee: agentUser.sub } });
    const queue = async () => ((await emit(agentSocket, 'ticket:list', { scope: 'queue' })) as any).tickets.map((x: any) => x.ticketId);
    expect(await queue()).not.toContain(ticketId);
    expect(await emit(agentSocket, 'ticket:assign', { ticketId, assignee: null })).toMatchObject({ ok: true, ticket: { assignee: null } });
    expect(await queue()).toContain(ticketId);
  });
});

describe('rebuild', () => {
  it('when every event is replayed into fresh tables, then tickets and messages equal the live read models row for row', async () => {
    const agentUser = await supportUser(t, { agent: true });
    const user = await supportUser(t);
    const userSocket = track(await supportSocket(t, user.caller));
    const agentSocket = track(await supportSocket(t, agentUser.caller));
    for (let i = 0; i < 3; i++) {
      const { ticketId } = await openTicket(userSocket, { subject: `Question ${i}`, group: ['oauth-api', 'account', 'billing'][i] });
      await emit(agentSocket, 'ticket:message', { ticketId, text: `Answer ${i}`, clientMessageId: `rb-${i}` });
      if (i > 0) await emit(agentSocket, 'ticket:status', { ticketId, status: i === 1 ? 'pending' : 'resolved' });
    }
    const database = openDatabase(t.databaseUrl, { max: 3 });
    try {
      const store = createPostgresEventStore(database.pool);
      await rebuildReadModels(database, store, { swap: false, schema: 'rm_support_compare' });
      await store.close();
      const [live, rebuilt] = await Promise.all([dumpReadModels(t.databaseUrl, 'rm'), dumpReadModels(t.databaseUrl, 'rm_support_compare')]);
      expect(rebuilt.tickets!.length).toBeGreaterThan(5);
      expect(rebuilt.ticket_messages!.length).toBeGreaterThan(10);
      expect(rebuilt).toEqual(live);
    } finally {
      await database.destroy();
    }
  });
});
