import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from './support/app.ts';
import { signUp } from './support/http.ts';
import { emit, next, openTicket, supportSocket, supportUser } from './support-socket.ts';

/** Issue 12: assignment with capacity, auto-assign, hand-back, ratings, the report, transcripts. */

let t: TestApp;
const sockets: Socket[] = [];
const track = <S extends Socket>(s: S) => (sockets.push(s), s);

beforeAll(async () => {
  // an agent who goes offline hands back at once (the default waits 15 s for a reload)
  t = await startTestApp({ env: { SUPPORT_HANDBACK_SECONDS: '0' } });
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await t?.close();
});

const agent = async (name: string) => {
  const user = await supportUser(t, { agent: true, name });
  return { user, socket: track(await supportSocket(t, user.caller)) };
};
const customer = async (name = 'Ada Customer') => {
  const user = await signUp(t.url, { name, plan: 'pro' });
  return { user, socket: track(await supportSocket(t, user.caller)) };
};

describe('assignment', () => {
  it('when auto-assign runs, then the oldest waiting ticket goes to the online agent with the most free capacity', async () => {
    const busy = await agent('Busy Agent');
    const free = await agent('Free Agent');
    const c = await customer();
    const first = await openTicket(c.socket, { subject: 'first' });
    await openTicket(c.socket, { subject: 'second' });
    // Busy has one ticket of a capacity of 2; Free none of 5
    expect(await emit(busy.socket, 'desk:capacity', { capacity: 2 })).toMatchObject({ ok: true, capacity: 2 });
    expect(await emit(busy.socket, 'ticket:assign', { ticketId: first.ticketId })).toMatchObject({ ok: true });
    const queue = await emit(free.socket, 'desk:list', { scope: 'queue' });
    if (!queue.ok) throw new Error('no queue');
    const oldest = queue.tickets[0].ticketId;
    const auto = await emit(busy.socket, 'desk:auto-assign');
    expect(auto).toMatchObject({ ok: true, assignee: free.user.sub, ticket: { ticketId: oldest, assignee: free.user.sub } });
    const counts = await emit(free.socket, 'desk:list', { scope: 'mine' });
    expect(counts).toMatchObject({ ok: true, counts: { mine: 1 }, tickets: [{ ticketId: oldest, assigneeName: 'Free Agent' }] });
  });

  it('when an agent takes more than their capacity, then it is refused, saying so', async () => {
    const a = await agent('Capped Agent');
    const c = await customer();
    expect(await emit(a.socket, 'desk:capacity', { capacity: 1 })).toMatchObject({ ok: true });
    const one = await openTicket(c.socket);
    const two = await openTicket(c.socket);
    expect(await emit(a.socket, 'ticket:assign', { ticketId: one.ticketId })).toMatchObject({ ok: true, ticket: { assignee: a.user.sub } });
    const refused = await emit(a.socket, 'ticket:assign', { ticketId: two.ticketId });
    expect(refused).toMatchObject({ ok: false, error: { code: 'over_capacity', message: expect.stringContaining('capacity is 1') } });
    expect(await emit(a.socket, 'desk:capacity', { capacity: 101 })).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
  });

  it('when an agent takes a ticket, then every other agent’s desk hears of it in one desk:updated', async () => {
    const taker = await agent('Taking Agent');
    const watcher = await agent('Watching Agent');
    const c = await customer();
    const { ticketId } = await openTicket(c.socket);
    const heard = next(watcher.socket, 'desk:updated', (d) => d.tickets.some((u: { ticketId: string; assignee: number | null }) => u.ticketId === ticketId && u.assignee === taker.user.sub));
    expect(await emit(taker.socket, 'ticket:assign', { ticketId })).toMatchObject({ ok: true });
    const row = (await heard).tickets.find((u: { ticketId: string }) => u.ticketId === ticketId);
    expect(row).toMatchObject({ ticketId, assignee: taker.user.sub, status: 'open' });
    // what a desk row's status and owner need, nothing more: it goes to every agent
    expect(Object.keys(row).sort()).toEqual(['assignee', 'status', 'ticketId', 'updatedAt']);
  });

  it('when two agents take one ticket at once, then one wins and the other is told who took it', async () => {
    const a = await agent('Alice Agent');
    const b = await agent('Bob Agent');
    const c = await customer();
    const { ticketId } = await openTicket(c.socket);
    const [ra, rb] = await Promise.all([emit(a.socket, 'ticket:assign', { ticketId }), emit(b.socket, 'ticket:assign', { ticketId })]);
    const winner = ra.ok ? a : b;
    const loser = ra.ok ? rb : ra;
    expect([ra.ok, rb.ok].filter(Boolean)).toHaveLength(1);
    expect(loser).toMatchObject({ ok: false, error: { code: 'ticket_taken', assignee: { sub: winner.user.sub, name: winner.user === a.user ? 'Alice Agent' : 'Bob Agent' } } });
  });

  it('when an agent goes offline, then the tickets they took and did not answer go back to the queue; answered ones stay', async () => {
    const a = await agent('Leaving Agent');
    const c = await customer();
    const unanswered = await openTicket(c.socket, { subject: 'unanswered' });
    const answered = await openTicket(c.socket, { subject: 'answered' });
    await emit(a.socket, 'ticket:assign', { ticketId: unanswered.ticketId });
    await emit(a.socket, 'ticket:message', { ticketId: answered.ticketId, text: 'On it', clientMessageId: 'a1' });
    const handedBack = next(c.socket, 'ticket:updated', (u) => u.ticketId === unanswered.ticketId && u.assignee === null);
    a.socket.disconnect();
    await handedBack;
    const watcher = await agent('Watcher');
    const all = await emit(watcher.socket, 'desk:list', { scope: 'all', q: answered.ticketId });
    expect(all).toMatchObject({ ok: true, tickets: [{ ticketId: answered.ticketId, assignee: a.user.sub }] });
  });
});

describe('ratings, report and transcripts', () => {
  it('when the customer rates a resolved ticket five stars with a comment, then the report shows it per agent, group and week', async () => {
    const a = await agent('Rated Agent');
    const c = await customer('Rating Customer');
    const { ticketId } = await openTicket(c.socket, { group: 'billing' });
    await emit(a.socket, 'ticket:message', { ticketId, text: 'Done: your plan is active again.', clientMessageId: 'r1' });
    await emit(a.socket, 'ticket:note', { ticketId, text: 'refunded <b>€5</b>', clientMessageId: 'n1' });
    expect(await emit(a.socket, 'ticket:status', { ticketId, status: 'resolved' })).toMatchObject({ ok: true });
    expect(await emit(c.socket, 'ticket:rate', { ticketId, rating: 6 })).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    expect(await emit(c.socket, 'ticket:rate', { ticketId, rating: 5, comment: 'Quick and clear' })).toMatchObject({ ok: true, ticket: { rating: 5 } });

    const report = await emit(a.socket, 'desk:report', { weeks: 1 });
    if (!report.ok) throw new Error(JSON.stringify(report));
    const mine = report.report.byAgent.find((r: { key: string }) => r.key === String(a.user.sub));
    expect(mine).toMatchObject({ name: 'Rated Agent', tickets: 1, rated: 1, averageRating: 5, answered: 1, week: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    expect(mine.averageFirstResponseSeconds).toBeGreaterThanOrEqual(0);
    expect(report.report.byGroup.some((r: { key: string; rated: number }) => r.key === 'billing' && r.rated >= 1)).toBe(true);
    expect(await emit(c.socket, 'desk:report', {})).toMatchObject({ ok: false, error: { code: 'forbidden' } });

    // transcripts: the customer's has no note; the agent's has it, escaped
    const customerTxt = await c.user.caller.get(`/support/tickets/${ticketId}/transcript.txt`);
    expect(customerTxt.status).toBe(200);
    expect(customerTxt.text).toContain('Done: your plan is active again.');
    expect(customerTxt.text).not.toContain('refunded');
    const agentHtml = await a.user.caller.get(`/support/tickets/${ticketId}/transcript.html?lang=nl`);
    expect(agentHtml.status).toBe(200);
    expect(agentHtml.text).toContain('refunded &lt;b&gt;€5&lt;/b&gt;');
    expect(agentHtml.text).toContain('privénotitie');
    const stranger = await customer('Stranger');
    expect((await stranger.user.caller.get(`/support/tickets/${ticketId}/transcript.txt`)).status).toBe(404);
  });
});
