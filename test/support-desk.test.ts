import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from './support/app.ts';
import { testClock } from './support/clock.ts';
import { signUp } from './support/http.ts';
import { callApi, partnerHeaders } from './support/partner.ts';
import { emit, next, openTicket, record, sentinel, supportSocket, supportUser } from './support-socket.ts';

/**
 * Issue 12, the agent's side: private notes, the failing client at hand (ticket:context and its
 * explanations), canned answers, tags and priority. Everything over real sockets; "never
 * arrives" is proven with a sentinel sent after, never with a pause.
 */

const clock = testClock();
let t: TestApp;
const sockets: Socket[] = [];
const track = <S extends Socket>(s: S) => (sockets.push(s), s);

beforeAll(async () => {
  t = await startTestApp({ now: clock.now });
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await t?.close();
});

async function agentAndCustomer() {
  const agentUser = await supportUser(t, { agent: true, name: 'Grace Agent' });
  const customer = await signUp(t.url, { name: 'Ada Customer', plan: 'pro' });
  const agent = track(await supportSocket(t, agentUser.caller));
  const user = track(await supportSocket(t, customer.caller));
  return { agentUser, customer, agent, user };
}

describe('private notes (ticket:note)', () => {
  it('when an agent adds a note, then other agents get it as private, the customer never does, nor in ticket:join', async () => {
    const { agentUser, agent, user } = await agentAndCustomer();
    const colleagueUser = await supportUser(t, { agent: true, name: 'Colleague' });
    const colleague = track(await supportSocket(t, colleagueUser.caller));
    const { ticketId } = await openTicket(user, { subject: 'Secret expired' });
    expect(await emit(agent, 'ticket:join', { ticketId })).toMatchObject({ ok: true });
    expect(await emit(colleague, 'ticket:join', { ticketId })).toMatchObject({ ok: true });
    const atCustomer = record(user, 'ticket:message');

    const atColleague = next(colleague, 'ticket:message', (m) => m.seq === 2);
    const note = await emit(agent, 'ticket:note', { ticketId, text: 'Customer is on pro; secret rotated yesterday', clientMessageId: 'note-1' });
    expect(note).toMatchObject({ ok: true, seq: 2 });
    expect(await atColleague).toMatchObject({ ticketId, seq: 2, private: true, author: agentUser.sub, text: 'Customer is on pro; secret rotated yesterday' });

    // the sentinel: a read mark from the agent after the note; once the customer hears it, the note would have arrived first
    await sentinel(agent, user, ticketId);
    const answer = next(user, 'ticket:message', (m) => m.seq === 3);
    await emit(agent, 'ticket:message', { ticketId, text: 'Your secret expired; use the new one.', clientMessageId: 'a-1' });
    await answer;
    expect(atCustomer.map((m) => m.seq)).toEqual([3]);
    expect(atCustomer.some((m) => m.private || m.text.includes('rotated yesterday'))).toBe(false);

    const customerJoin = await emit(user, 'ticket:join', { ticketId });
    expect(customerJoin.ok && customerJoin.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 3]);
    const agentJoin = await emit(colleague, 'ticket:join', { ticketId });
    expect(agentJoin.ok && agentJoin.messages.map((m: { seq: number; private?: boolean }) => [m.seq, m.private ?? false])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
  });

  it('when a customer sends ticket:note, or a note breaks the message limits, then it is refused', async () => {
    const { agent, user } = await agentAndCustomer();
    const { ticketId } = await openTicket(user);
    expect(await emit(user, 'ticket:note', { ticketId, text: 'sneaky', clientMessageId: 'n' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await emit(agent, 'ticket:note', { ticketId, text: '   ', clientMessageId: 'n' })).toMatchObject({ ok: false, error: { code: 'message_empty' } });
    expect(await emit(agent, 'ticket:note', { ticketId, text: 'x'.repeat(4_001), clientMessageId: 'n' })).toMatchObject({ ok: false, error: { code: 'message_too_long' } });
    expect(await emit(agent, 'ticket:note', { ticketId, text: 'ok' })).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
  });
});

describe('the failing client at hand (ticket:context)', () => {
  let ada: Awaited<ReturnType<typeof signUp>>;
  let clientId: string;
  let expiredDenial: string;
  let original: { secretId: string; secret: string; hint: string };

  beforeAll(async () => {
    ada = await signUp(t.url, { name: 'Ada Lovelace', plan: 'pro' });
    const created = await ada.caller.post('/manage/v1/clients', { name: 'Webshop' });
    clientId = created.body.clientId;
    original = created.body.secret;
    await ada.caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: 'shop.example.com' });
    const whoami = (secret: string) => callApi(t.url, '/api/whoami', partnerHeaders({ clientId, secret, domain: 'shop.example.com' }));
    expect((await whoami(original.secret)).status).toBe(200);
    // rotated with a minute's grace; the minute passes (the app's clock, not a sleep)
    await ada.caller.post(`/manage/v1/clients/${clientId}/secrets/${original.secretId}/rotate`, { graceSeconds: 60 });
    clock.advance(61_000);
    const refused = await whoami(original.secret);
    expect(refused.body.code).toBe('secret_expired');
    expiredDenial = refused.headers.get('x-request-id')!;
  });

  it('when the customer opens a ticket naming the client, then the agent sees its state, denials and an explanation', async () => {
    const agentUser = await supportUser(t, { agent: true });
    const agent = track(await supportSocket(t, agentUser.caller));
    const user = track(await supportSocket(t, ada.caller));
    const { ticketId } = await openTicket(user, { subject: 'Every call is 401', clientId });

    const context = await emit(agent, 'ticket:context', { ticketId });
    expect(context).toMatchObject({ ok: true, client: { clientId, name: 'Webshop' } });
    if (!context.ok) throw new Error('unreachable');
    expect(context.denials[0]).toMatchObject({ requestId: expiredDenial, reason: 'secret_expired' });
    const secrets = context.client.secrets as { secretId: string; hint: string; status: string }[];
    expect(secrets.find((s) => s.secretId === original.secretId)).toMatchObject({ hint: original.hint });
    // never secret material
    expect(JSON.stringify(context)).not.toContain(original.secret);

    const explained = await emit(agent, 'ticket:explain', { ticketId, requestId: expiredDenial });
    expect(explained).toMatchObject({ ok: true, explanation: { requestId: expiredDenial, decision: { reason: 'secret_expired' }, cause: { event: { type: 'ClientSecretRotated' } } } });
    const dutch = await emit(agent, 'ticket:explain', { ticketId, requestId: expiredDenial, language: 'nl' });
    expect(dutch).toMatchObject({ ok: true, explanation: { language: 'nl' } });

    // the customer's organisation sees the same panel
    expect(await emit(user, 'ticket:context', { ticketId })).toMatchObject({ ok: true, client: { clientId } });
  });

  it('when an agent asks for a client through a ticket that does not name it, then there is no panel and no explanation', async () => {
    const agentUser = await supportUser(t, { agent: true });
    const agent = track(await supportSocket(t, agentUser.caller));
    const user = track(await supportSocket(t, ada.caller));
    const { ticketId } = await openTicket(user, { subject: 'A general question' });
    expect(await emit(agent, 'ticket:context', { ticketId })).toEqual({ ok: true, client: null, denials: [] });
    expect(await emit(agent, 'ticket:explain', { ticketId, requestId: expiredDenial })).toMatchObject({ ok: false, error: { code: 'denial_not_found' } });
    // a ticket of another organisation's client does not open this client's denials either
    const other = await signUp(t.url, { plan: 'pro' });
    const otherClient = (await other.caller.post('/manage/v1/clients', { name: 'Other' })).body.clientId as string;
    const otherSocket = track(await supportSocket(t, other.caller));
    const { ticketId: otherTicket } = await openTicket(otherSocket, { clientId: otherClient });
    expect(await emit(agent, 'ticket:explain', { ticketId: otherTicket, requestId: expiredDenial })).toMatchObject({ ok: false, error: { code: 'denial_not_found' } });
    // and a stranger gets nothing at all
    expect(await emit(otherSocket, 'ticket:context', { ticketId })).toMatchObject({ ok: false, error: { code: 'ticket_not_found' } });
  });

  it('when a customer names a client of another organisation, then the ticket is refused', async () => {
    const other = await signUp(t.url, { plan: 'pro' });
    const otherSocket = track(await supportSocket(t, other.caller));
    expect(await emit(otherSocket, 'ticket:open', { subject: 'x', group: 'oauth-api', message: 'y', clientId })).toMatchObject({
      ok: false,
      error: { code: 'client_not_found' },
    });
  });
});

describe('working tools', () => {
  it('when an agent sends a canned answer, then the customer gets it in their language with the placeholders filled', async () => {
    const { agent, user } = await agentAndCustomer();
    const saved = await emit(agent, 'desk:canned:save', {
      title: 'Expired secret',
      en: 'Hello {{customerName}}, client {{clientId}} uses an expired secret.',
      nl: 'Hallo {{customerName}}, client {{clientId}} gebruikt een verlopen geheim.',
    });
    expect(saved).toMatchObject({ ok: true, cannedId: expect.stringMatching(/^cn_/) });
    if (!saved.ok) throw new Error('unreachable');
    expect(await emit(user, 'desk:canned:list')).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const list = await emit(agent, 'desk:canned:list');
    expect(list.ok && list.canned.some((c: { cannedId: string }) => c.cannedId === saved.cannedId)).toBe(true);

    const { ticketId } = await openTicket(user, { language: 'nl' });
    const atCustomer = next(user, 'ticket:message', (m) => m.seq === 2);
    expect(await emit(agent, 'ticket:canned', { ticketId, cannedId: saved.cannedId, clientMessageId: 'c-1' })).toMatchObject({ ok: true, seq: 2 });
    expect((await atCustomer).text).toBe('Hallo Ada Customer, client  gebruikt een verlopen geheim.');

    expect(await emit(agent, 'desk:canned:remove', { cannedId: saved.cannedId })).toMatchObject({ ok: true });
    expect(await emit(agent, 'ticket:canned', { ticketId, cannedId: saved.cannedId, clientMessageId: 'c-2' })).toMatchObject({ ok: false, error: { code: 'canned_not_found' } });
  });

  it('when an agent tags a ticket and sets its priority, then the ticket carries them and bad values are refused', async () => {
    const { agent, user } = await agentAndCustomer();
    const { ticketId } = await openTicket(user);
    expect(await emit(agent, 'ticket:tags', { ticketId, tags: ['Expired', 'webshop', 'expired'] })).toMatchObject({ ok: true, ticket: { tags: ['expired', 'webshop'] } });
    expect(await emit(agent, 'ticket:priority', { ticketId, priority: 'urgent' })).toMatchObject({ ok: true, ticket: { priority: 'urgent' } });
    expect(await emit(agent, 'ticket:priority', { ticketId, priority: 'whenever' })).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    expect(await emit(agent, 'ticket:tags', { ticketId, tags: ['<script>'] })).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    expect(await emit(user, 'ticket:priority', { ticketId, priority: 'urgent' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const found = await emit(agent, 'desk:list', { scope: 'all', q: ticketId });
    expect(found).toMatchObject({ ok: true, tickets: [{ ticketId, tags: ['expired', 'webshop'], priority: 'urgent', customer: { name: 'Ada Customer' } }] });
  });
});
