import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from './support/app.ts';
import { testClock } from './support/clock.ts';
import { signUp } from './support/http.ts';
import { startTestSmtp, type TestSmtp } from './support/smtp.ts';
import { changeStaffRole, cliMetadata } from '../src/support/staff.ts';
import { connectSocket, connected, emit, next, openTicket, supportSocket, supportUser } from './support-socket.ts';

/**
 * Issue 12 on two nodes: presence that tells the truth, offline questions (business hours, no
 * agent online, the answer mailed), a revoked agent cut off everywhere, an expired session cut
 * off with login_required. Waits for events and moves the app's clock; never sleeps.
 */

const clock = testClock();
let smtp: TestSmtp;
let first: TestApp;
let second: TestApp;
const sockets: Socket[] = [];
const track = <S extends Socket>(s: S) => (sockets.push(s), s);

beforeAll(async () => {
  smtp = await startTestSmtp();
  const env = { SMTP_URL: smtp.url, SUPPORT_HANDBACK_SECONDS: '0' };
  first = await startTestApp({ now: clock.now, env });
  second = await startTestApp({ databaseUrl: first.databaseUrl, runProjector: false, now: clock.now, env });
  await vi.waitFor(
    async () => {
      const counts = await Promise.all([first, second].map((t) => t.app.support.namespace.adapter.serverCount()));
      if (!counts.every((n) => n === 2)) throw new Error(`the nodes did not find each other: ${counts.join(', ')}`);
    },
    { timeout: 120_000, interval: 100 },
  );
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await second?.close();
  await first?.close();
  await smtp?.close();
});

describe('offline questions', () => {
  it('when no agent is online, then the page is told so, the question is left, and the answer is mailed with a link back', async () => {
    const customer = await signUp(first.url, { name: 'Offline Olga', plan: 'pro' });
    const user = track(await supportSocket(first, customer.caller));
    const availability = await emit(user, 'support:availability');
    expect(availability).toMatchObject({ ok: true, agentsOnline: 0, groups: expect.arrayContaining([{ group: 'oauth-api', withinHours: true, hours: null, open: false }]) });
    const opened = await openTicket(user, { subject: 'Left while nobody was there', language: 'nl' });
    expect(opened).toMatchObject({ offline: true, agentsOnline: 0 });
    user.disconnect();

    // an agent comes later, on the other node, and answers
    const agentUser = await supportUser(second, { agent: true, name: 'Late Agent' });
    const agent = track(await supportSocket(second, agentUser.caller));
    const queue = await emit(agent, 'desk:list', { scope: 'queue', q: opened.ticketId });
    expect(queue).toMatchObject({ ok: true, tickets: [{ ticketId: opened.ticketId }] });
    expect(await emit(agent, 'ticket:message', { ticketId: opened.ticketId, text: 'Je nieuwe geheim staat klaar.', clientMessageId: 'late-1' })).toMatchObject({ ok: true });
    // the answer's mail (registration mailed a confirmation to the same address before it)
    const mail = await smtp.waitFor((m) => m.to.includes(customer.email) && m.text.includes(`/support?ticket=${opened.ticketId}`));
    expect(mail.subject).toContain('Left while nobody was there');
    expect(mail.text).toContain(`/support?ticket=${opened.ticketId}`);
    expect(mail.text).toContain('Een supportmedewerker heeft je vraag');
    expect(mail.text).not.toContain('Je nieuwe geheim staat klaar.');

    // back on /support: the answer is there
    const back = track(await supportSocket(first, customer.caller));
    const joined = await emit(back, 'ticket:join', { ticketId: opened.ticketId });
    expect(joined.ok && joined.messages.map((m: { text: string }) => m.text)).toEqual(['Since this morning every call is 401.', 'Je nieuwe geheim staat klaar.']);
    agent.disconnect();
  });

  it('when business hours are closed, then the group is closed even with an agent online, and a question waits', async () => {
    const agentUser = await supportUser(first, { agent: true });
    const agent = track(await supportSocket(first, agentUser.caller));
    // open only on a day that is not today, in Amsterdam time
    const today = new Date(clock.ms()).getUTCDay();
    const otherDay = (today + 3) % 7;
    const set = await emit(agent, 'desk:hours', { group: 'billing', hours: { timeZone: 'Europe/Amsterdam', intervals: [{ day: otherDay, open: '09:00', close: '17:00' }] } });
    expect(set).toMatchObject({ ok: true });
    expect(await emit(agent, 'desk:hours', { group: 'billing', hours: { timeZone: 'Mars/Olympus', intervals: [] } })).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    const customer = await signUp(second.url, { plan: 'pro' });
    const user = track(await supportSocket(second, customer.caller));
    const availability = await emit(user, 'support:availability');
    expect(availability.ok && availability.agentsOnline).toBeGreaterThanOrEqual(1);
    expect(availability.ok && availability.groups.find((g: { group: string }) => g.group === 'billing')).toMatchObject({ withinHours: false, open: false });
    expect(await openTicket(user, { group: 'billing' })).toMatchObject({ offline: true });
    expect(await openTicket(user, { group: 'account' })).toMatchObject({ offline: false });
    await emit(agent, 'desk:hours', { group: 'billing', hours: null });
    agent.disconnect();
  });
});

describe('presence, revocation, expiry', () => {
  it('when the last agent disconnects from the other node, then "an agent is online" disappears on this one', async () => {
    const customer = await signUp(first.url, { plan: 'pro' });
    const user = track(await supportSocket(first, customer.caller));
    const agentUser = await supportUser(second, { agent: true });
    const online = next(user, 'support:presence', (p) => p.agentsOnline >= 1);
    const agent = track(await supportSocket(second, agentUser.caller));
    await online;
    const gone = next(user, 'support:presence', (p) => p.agentsOnline === 0);
    agent.disconnect();
    expect(await gone).toEqual({ agentsOnline: 0 });
  });

  it('when an agent is revoked, then their sockets on every node are told and disconnected, and the desk refuses them', async () => {
    const agentUser = await supportUser(first, { agent: true });
    const onFirst = track(await supportSocket(first, agentUser.caller));
    const onSecond = track(await supportSocket(second, agentUser.caller));
    expect(await emit(onFirst, 'desk:list', { scope: 'queue' })).toMatchObject({ ok: true });
    const ended = [onFirst, onSecond].map((s) => next(s, 'support:ended'));
    const dropped = [onFirst, onSecond].map((s) => new Promise<string>((resolve) => s.once('disconnect', resolve)));
    await changeStaffRole(first.app.ctx.database, first.app.ctx.commands, { email: agentUser.email, grant: false, metadata: cliMetadata(new Date()) });
    for (const e of await Promise.all(ended)) expect(e).toEqual({ code: 'agent_revoked' });
    expect(await Promise.all(dropped)).toEqual(['io server disconnect', 'io server disconnect']);
    // reconnecting: a customer now, no desk
    const again = track(await supportSocket(first, agentUser.caller));
    expect(await emit(again, 'desk:list', { scope: 'queue' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect((await agentUser.caller.get('/support/desk')).status).not.toBe(200);
  });

  it('when a session expires while connected, then the socket is told login_required and disconnected', async () => {
    const customer = await signUp(first.url, { plan: 'pro' });
    const user = track(await supportSocket(first, customer.caller));
    const ended = next(user, 'support:ended');
    const dropped = new Promise<string>((resolve) => user.once('disconnect', resolve));
    clock.advance(15 * 24 * 3_600_000); // past the 14-day session
    expect(await ended).toMatchObject({ code: 'login_required', message: { en: 'You must be logged in to start a support ticket' } });
    expect(await dropped).toBe('io server disconnect');
    const refused = connectSocket(first.url, customer.caller);
    track(refused);
    await expect(connected(refused)).rejects.toThrow('login_required');
  });
});
