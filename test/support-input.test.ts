import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from './support/app.ts';
import { testClock, withDateStopped } from './support/clock.ts';
import { emit, next, openTicket, record, sentinel, supportSocket, supportUser, type Ack } from './support-socket.ts';

let t: TestApp;
// the app's clock: real time, moved forward where a test would otherwise wait for a bucket to refill
const clock = testClock();
const sockets: Socket[] = [];
const track = (s: Socket) => (sockets.push(s), s);

beforeAll(async () => {
  t = await startTestApp({ now: clock.now });
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await t?.close();
});

const refused = (ack: Ack, code: string) => {
  expect(ack.ok, JSON.stringify(ack)).toBe(false);
  if (!ack.ok) {
    expect(ack.error.code).toBe(code);
    expect(typeof ack.error.message).toBe('string');
    expect(ack.error.message.length).toBeGreaterThan(5);
    expect(Object.keys(ack).sort()).toEqual(['error', 'ok']);
    expect(Object.keys(ack.error).sort()).toEqual(['code', 'message']);
  }
};

/** A user with an open ticket, an agent watching it, and what the agent hears. */
async function scene() {
  const agentUser = await supportUser(t, { agent: true });
  const user = await supportUser(t);
  const userSocket = track(await supportSocket(t, user.caller));
  const agentSocket = track(await supportSocket(t, agentUser.caller));
  const firstSeen = next(agentSocket, 'ticket:message', (m) => m.seq === 1);
  const { ticketId } = await openTicket(userSocket);
  await emit(agentSocket, 'ticket:join', { ticketId });
  await firstSeen; // the broadcast may land after the ack: wait, so what follows is all that is heard
  const heard = { messages: record(agentSocket, 'ticket:message'), updates: record(agentSocket, 'ticket:updated'), typing: record(agentSocket, 'ticket:typing') };
  return { user, userSocket, agentUser, agentSocket, ticketId, heard };
}

describe('bad payloads', () => {
  it('when any event arrives with a wrong or missing payload, then its ack names the problem, nothing is broadcast and the socket stays usable', async () => {
    const { userSocket, agentSocket, ticketId, heard } = await scene();
    const cases: [string, unknown, string, RegExp][] = [
      ['ticket:open', undefined, 'invalid_payload', /payload must be an object/],
      ['ticket:open', 'hello', 'invalid_payload', /payload must be an object/],
      ['ticket:open', {}, 'invalid_payload', /subject is required.*group is required.*message is required/],
      ['ticket:open', { subject: 42, group: 'account', message: 'hi' }, 'invalid_payload', /subject must be a string/],
      ['ticket:open', { subject: '   ', group: 'account', message: 'hi' }, 'invalid_payload', /subject must not be empty/],
      ['ticket:open', { subject: 'x'.repeat(201), group: 'account', message: 'hi' }, 'invalid_payload', /at most 200 characters/],
      ['ticket:open', { subject: 'ok', group: 'account', message: 'hi', clientMessageId: 'has spaces' }, 'invalid_payload', /clientMessageId must be/],
      ['ticket:message', null, 'invalid_payload', /payload must be an object/],
      ['ticket:message', [ticketId, 'text'], 'invalid_payload', /payload must be an object/],
      ['ticket:message', { ticketId, text: 'no id' }, 'invalid_payload', /clientMessageId is required/],
      ['ticket:message', { ticketId, text: { evil: true }, clientMessageId: 'x' }, 'invalid_payload', /text must be a string/],
      ['ticket:message', { ticketId: 12, text: 'hi', clientMessageId: 'x' }, 'invalid_payload', /ticketId must be a string/],
      ['ticket:message', { ticketId, text: 'nul \u0000 byte', clientMessageId: 'x' }, 'invalid_payload', /cannot be stored/],
      ['ticket:message', { ticketId, text: 'lone \uD800 surrogate', clientMessageId: 'x' }, 'invalid_payload', /cannot be stored/],
      ['ticket:join', {}, 'invalid_payload', /ticketId is required/],
      ['ticket:join', { ticketId, afterSeq: -1 }, 'invalid_payload', /afterSeq must be 0 or more/],
      ['ticket:join', { ticketId, afterSeq: 'ten' }, 'invalid_payload', /afterSeq must be a number/],
      ['ticket:join', { ticketId, afterSeq: 1.5 }, 'invalid_payload', /afterSeq must be an integer/],
      ['ticket:typing', 7, 'invalid_payload', /payload must be an object/],
      ['ticket:read', { ticketId }, 'invalid_payload', /seq is required/],
      ['ticket:list', { scope: 'everything' }, 'invalid_payload', /scope/],
      ['ticket:status', { ticketId, status: 'closed' }, 'invalid_payload', /status must be one of open, pending, resolved/],
      ['ticket:assign', { ticketId, assignee: 'me' }, 'invalid_payload', /assignee must be a number/],
      ['ticket:rate', { ticketId, rating: 6 }, 'invalid_payload', /rating is 1–5/],
      ['ticket:leave', {}, 'invalid_payload', /ticketId is required/],
    ];
    for (const [event, payload, code, message] of cases) {
      const ack = await emit(userSocket, event, payload);
      refused(ack, code);
      if (!ack.ok) expect(ack.error.message, `${event} ${JSON.stringify(payload)}`).toMatch(message);
    }
    const unknown = await emit(userSocket, 'ticket:delete', { ticketId });
    refused(unknown, 'unknown_event');
    // still connected and working
    expect(await emit(userSocket, 'ticket:message', { ticketId, text: 'still here', clientMessageId: 'ok-1' })).toMatchObject({ ok: true, seq: 2 });
    await sentinel(userSocket, agentSocket, ticketId);
    expect(heard.messages.map((m) => m.text)).toEqual(['still here']);
    expect(heard.typing).toEqual([]);
  });

  it('when events come without an acknowledgement callback, then nothing crashes and nothing bad is stored', async () => {
    const { userSocket, agentSocket, ticketId, heard } = await scene();
    const delivered = next(agentSocket, 'ticket:message', (m) => m.text === 'fire and forget');
    userSocket.emit('ticket:message', { ticketId, text: '', clientMessageId: 'no-ack-1' });
    userSocket.emit('ticket:message');
    userSocket.emit('ticket:open', 'garbage');
    userSocket.emit('ticket:join', { ticketId: 'tk_AAAAAAAAAAAAAAAAAAAAAA' });
    userSocket.emit('ticket:whatever', 1, 2, 3);
    // a valid message without an ack is still delivered
    userSocket.emit('ticket:message', { ticketId, text: 'fire and forget', clientMessageId: 'no-ack-2' });
    await delivered;
    // The bad ones are refused as they arrive (before any await), the join of an unknown ticket
    // broadcasts nothing; the same join with an answer is back once that path has run.
    refused(await emit(userSocket, 'ticket:join', { ticketId: 'tk_AAAAAAAAAAAAAAAAAAAAAA' }), 'ticket_not_found');
    await sentinel(userSocket, agentSocket, ticketId);
    expect(userSocket.connected).toBe(true);
    expect(heard.messages.map((m) => m.text)).toEqual(['fire and forget']);
    expect(t.logs.join('\n')).not.toMatch(/"level":(50|60)/);
  });
});

describe('messages refused by name', () => {
  it('when a message is empty or only spaces, then it is message_empty', async () => {
    const { userSocket, agentSocket, ticketId, heard } = await scene();
    refused(await emit(userSocket, 'ticket:message', { ticketId, text: '', clientMessageId: 'e1' }), 'message_empty');
    refused(await emit(userSocket, 'ticket:message', { ticketId, text: ' \n\t ', clientMessageId: 'e2' }), 'message_empty');
    refused(await emit(userSocket, 'ticket:open', { subject: 'Hi', group: 'account', message: '   ' }), 'message_empty');
    await sentinel(userSocket, agentSocket, ticketId);
    expect(heard.messages).toEqual([]);
  });

  it('when a message is longer than 4,000 characters, then it is message_too_long; exactly 4,000 (even emoji) is fine', async () => {
    const { userSocket, agentSocket, ticketId, heard } = await scene();
    const tooLong = await emit(userSocket, 'ticket:message', { ticketId, text: 'a'.repeat(4_001), clientMessageId: 'l1' });
    refused(tooLong, 'message_too_long');
    if (!tooLong.ok) expect(tooLong.error.message).toContain('4001 characters; at most 4000');
    refused(await emit(userSocket, 'ticket:message', { ticketId, text: 'a'.repeat(20_000), clientMessageId: 'l2' }), 'message_too_long');
    refused(await emit(userSocket, 'ticket:open', { subject: 'Long', group: 'billing', message: 'b'.repeat(4_001) }), 'message_too_long');
    expect(await emit(userSocket, 'ticket:message', { ticketId, text: 'a'.repeat(4_000), clientMessageId: 'l3' })).toMatchObject({ ok: true });
    expect(await emit(userSocket, 'ticket:message', { ticketId, text: '😀'.repeat(4_000), clientMessageId: 'l4' })).toMatchObject({ ok: true });
    await sentinel(userSocket, agentSocket, ticketId);
    expect(heard.messages.map((m) => [...m.text].length)).toEqual([4_000, 4_000]);
  });

  it('when a packet is larger than the server accepts, then that socket is dropped and the server is unharmed', async () => {
    const { userSocket, ticketId, agentSocket } = await scene();
    const dropped = new Promise<string>((resolve) => userSocket.once('disconnect', resolve));
    userSocket.emit('ticket:message', { ticketId, text: 'x'.repeat(200_000), clientMessageId: 'huge' });
    expect(await dropped).toMatch(/transport (close|error)/);
    expect(await emit(agentSocket, 'ticket:message', { ticketId, text: 'still serving', clientMessageId: 'after-huge' })).toMatchObject({ ok: true });
  });

  it('when the ticket id is unknown or malformed, then it is ticket_not_found', async () => {
    const { userSocket } = await scene();
    for (const ticketId of ['tk_AAAAAAAAAAAAAAAAAAAAAA', 'nope', '', '../../etc/passwd', 'tk_' + 'A'.repeat(90)]) {
      refused(await emit(userSocket, 'ticket:message', { ticketId, text: 'hello', clientMessageId: 'u1' }), 'ticket_not_found');
      refused(await emit(userSocket, 'ticket:join', { ticketId }), 'ticket_not_found');
    }
  });

  it('when the group or the client is not one of ours, then unknown_group / client_not_found', async () => {
    const { userSocket } = await scene();
    refused(await emit(userSocket, 'ticket:open', { subject: 'Hi', group: 'sales', message: 'hello' }), 'unknown_group');
    refused(await emit(userSocket, 'ticket:open', { subject: 'Hi', group: 'oauth-api', message: 'hello', clientId: 'kc_notmine' }), 'client_not_found');
    // a client of the user's own organisation is fine
    const owner = await supportUser(t);
    await owner.caller.post('/manage/v1/account/plan', { plan: 'pro' });
    const { clientId } = (await owner.caller.post('/manage/v1/clients', { name: 'Webshop' })).body;
    const ownerSocket = track(await supportSocket(t, owner.caller));
    const opened = await emit(ownerSocket, 'ticket:open', { subject: 'About my client', group: 'oauth-api', message: 'hello', clientId });
    expect(opened).toMatchObject({ ok: true, ticket: { clientId } });
    // but not for another organisation
    refused(await emit(userSocket, 'ticket:open', { subject: 'Hi', group: 'oauth-api', message: 'hello', clientId }), 'client_not_found');
  });

  it('when a user (not an agent) assigns or changes status, then it is forbidden', async () => {
    const { userSocket, ticketId } = await scene();
    refused(await emit(userSocket, 'ticket:assign', { ticketId }), 'forbidden');
    refused(await emit(userSocket, 'ticket:status', { ticketId, status: 'resolved' }), 'forbidden');
    // asking for the queue, a user gets only their own tickets
    const other = await scene();
    const listed = await emit(userSocket, 'ticket:list', { scope: 'queue' });
    expect(listed.ok && listed.tickets.map((x: any) => x.ticketId)).toEqual([ticketId]);
    expect(other.ticketId).not.toBe(ticketId);
    refused(await emit(userSocket, 'ticket:rate', { ticketId, rating: 3 }), 'ticket_not_resolved');
  });
});

describe('rate limits', () => {
  it('when a user sends more than 10 messages in 10 seconds, then the 11th is rate_limited with a clear message, and nothing of it is broadcast', async () => {
    // the limit counts in windows of wall-clock time: with Date stopped, all of this is one window
    await withDateStopped(async () => {
      const { userSocket, agentSocket, ticketId, heard } = await scene(); // the open used 1 of the 10
      for (let i = 0; i < 9; i++) {
        expect(await emit(userSocket, 'ticket:message', { ticketId, text: `m${i}`, clientMessageId: `rl-${i}` })).toMatchObject({ ok: true });
      }
      const limited = await emit(userSocket, 'ticket:message', { ticketId, text: 'one too many', clientMessageId: 'rl-x' });
      refused(limited, 'rate_limited');
      if (!limited.ok) expect(limited.error.message).toMatch(/at most 10 in 10 seconds; try again in \d+ seconds?/);
      refused(await emit(userSocket, 'ticket:open', { subject: 'Another', group: 'account', message: 'hello' }), 'rate_limited');
      await sentinel(userSocket, agentSocket, ticketId); // a read mark: not a message, so not limited
      expect(heard.messages).toHaveLength(9);
      expect(heard.messages.some((m) => m.text === 'one too many')).toBe(false);
    });
  });

  it('when a socket floods events, then the excess is answered rate_limited and the socket still works afterwards', async () => {
    const { userSocket, ticketId } = await scene();
    const acks = await Promise.all(Array.from({ length: 80 }, () => emit(userSocket, 'ticket:typing', { ticketId })));
    const limited = acks.filter((a) => !a.ok);
    expect(limited.length).toBeGreaterThan(20);
    for (const a of limited) refused(a, a.ok ? '' : a.error.code === 'too_many_pending' ? 'too_many_pending' : 'rate_limited');
    clock.advance(1_000); // a second later on the app's clock: the bucket has refilled
    expect(await emit(userSocket, 'ticket:typing', { ticketId })).toEqual({ ok: true });
  });
});

/** The server side of a socket's engine.io connection, as far as the memory test looks at it. */
interface EngineConnection {
  readyState: string;
  writeBuffer: unknown[];
  once(event: 'close', listener: () => void): void;
  on(event: 'close' | 'packetCreate', listener: (packet: { type: string; data?: unknown }) => void): void;
  off(event: 'close' | 'packetCreate', listener: (packet: { type: string; data?: unknown }) => void): void;
}

/** Resolves when the server queues an acknowledgement on `connection` (a Socket.IO ACK packet, `3/support,…`) or closes it. */
function answeredOrClosed(connection: EngineConnection, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      connection.off('packetCreate', onPacket);
      connection.off('close', done);
      resolve();
    };
    const onPacket = (packet: { type: string; data?: unknown }) => {
      if (packet.type === 'message' && typeof packet.data === 'string' && packet.data.startsWith('3/support,')) done();
    };
    const timer = setTimeout(() => {
      connection.off('packetCreate', onPacket);
      connection.off('close', done);
      reject(new Error(`no answer and no cut-off within ${timeoutMs} ms`));
    }, timeoutMs);
    connection.on('packetCreate', onPacket);
    connection.on('close', done);
    if (connection.readyState === 'closed') done();
  });
}

describe('memory', () => {
  it('when a socket stops reading while answers pile up for it, then the server disconnects it instead of buffering without bound', async () => {
    const { userSocket, agentSocket, ticketId } = await scene();
    // a ticket with ~200 kB of messages: every join answer is that big (sent at 20 events/s, the bucket's rate)
    const big = 'x'.repeat(4_000);
    for (let i = 0; i < 50; i++) {
      expect(await emit(agentSocket, 'ticket:message', { ticketId, text: big, clientMessageId: `big-${i}` })).toMatchObject({ ok: true });
      clock.advance(50);
    }
    const serverSide = () => [...t.app.support.namespace.sockets.values()].find((s) => s.id === userSocket.id);
    const connection = serverSide()!.conn as unknown as EngineConnection;
    const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    // the browser tab freezes: it keeps asking but reads nothing
    const engine = userSocket.io.engine as unknown as { transport: { ws: { _socket: { pause(): void } } } };
    engine.transport.ws._socket.pause();
    let asked = 0;
    while (serverSide() && asked < 200) {
      // one ask at a time: the next goes once the server has queued this one's answer (or cut it off)
      const handled = answeredOrClosed(connection);
      userSocket.emit('ticket:join', { ticketId }, () => {});
      asked++;
      clock.advance(60); // the event bucket refills on the app's clock
      await handled;
    }
    expect(asked).toBeLessThan(40); // cut off within a couple of MB, not tens
    expect(serverSide()).toBeUndefined();
    // and what was queued for it is gone with the connection
    await closed;
    await new Promise((resolve) => setImmediate(resolve)); // engine.io empties the buffer on the tick after 'close'
    expect(connection.readyState).toBe('closed');
    expect(connection.writeBuffer).toHaveLength(0);
    expect(t.logs.some((line) => line.includes('support socket does not read; disconnecting it'))).toBe(true);
    // everyone else is served as before
    expect(await emit(agentSocket, 'ticket:message', { ticketId, text: 'after the cut', clientMessageId: 'after-cut' })).toMatchObject({ ok: true });
  }, 180_000);
});
