// Helpers for the live-support tests: the real socket.io-client against a running test app.
import { io, type Socket } from 'socket.io-client';
import type { TestApp } from './support/app.ts';
import { type Caller, signUp } from './support/http.ts';
import { changeStaffRole, cliMetadata } from '../src/support/staff.ts';

export type Ack = { ok: true; [key: string]: any } | { ok: false; error: { code: string; message: string } };

export const cookieOf = (caller: Caller) => [...caller.cookies].map(([k, v]) => `${k}=${v}`).join('; ');

/** A connected socket on `/support` with the caller's session cookie (or none). */
export function connectSocket(url: string, caller?: Caller, options: { headers?: Record<string, string> } = {}): Socket {
  return io(`${url}/support`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    extraHeaders: { ...(caller ? { cookie: cookieOf(caller) } : {}), ...options.headers },
  });
}

export async function connected(socket: Socket): Promise<Socket> {
  if (socket.connected) return socket;
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

export async function emit(socket: Socket, event: string, payload?: unknown): Promise<Ack> {
  return (await socket.timeout(60_000).emitWithAck(event, payload)) as Ack;
}

/** Resolves with the next `event` whose payload satisfies `match`. */
export function next<T = any>(socket: Socket, event: string, match: (payload: T) => boolean = () => true, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: T) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(payload);
    };
    socket.on(event, listener);
  });
}

/** Collects every `event` payload from now on. */
export function record<T = any>(socket: Socket, event: string): T[] {
  const seen: T[] = [];
  socket.on(event, (payload: T) => seen.push(payload));
  return seen;
}

let sentinels = 0;

/**
 * Instead of pausing before asserting that something did not arrive: `from` marks `ticketId`
 * read and this resolves once `listener` hears that mark. The server handled everything `from`
 * had an answer for before the mark, and writes to `listener` in order, so whatever those events
 * sent `listener` has arrived by then. Both sockets must be in the ticket's room; the mark's seq
 * is far past any real message, so it tells nothing about what was read.
 */
export async function sentinel(from: Socket, listener: Socket, ticketId: string): Promise<void> {
  const seq = 2_000_000_000 + ++sentinels;
  const heard = next(listener, 'ticket:read', (r: { ticketId: string; seq: number }) => r.ticketId === ticketId && r.seq === seq);
  const ack = await emit(from, 'ticket:read', { ticketId, seq });
  if (!ack.ok) throw new Error(`the sentinel was refused: ${JSON.stringify(ack)}`);
  await heard;
}

/** A logged-in user, optionally made a support agent before connecting. */
export async function supportUser(t: TestApp, options: { agent?: boolean; name?: string } = {}) {
  const user = await signUp(t.url, { plan: null, name: options.name ?? (options.agent ? 'Agent Smith' : 'Ada Lovelace') });
  if (options.agent) {
    await changeStaffRole(t.app.ctx.database, t.app.ctx.commands, { email: user.email, grant: true, metadata: cliMetadata(new Date()) });
  }
  return user;
}

export async function supportSocket(t: TestApp | string, caller: Caller): Promise<Socket> {
  return await connected(connectSocket(typeof t === 'string' ? t : t.url, caller));
}

export async function openTicket(socket: Socket, overrides: Record<string, unknown> = {}) {
  const ack = await emit(socket, 'ticket:open', { subject: 'My secret stopped working', group: 'oauth-api', message: 'Since this morning every call is 401.', ...overrides });
  if (!ack.ok) throw new Error(`ticket:open failed: ${JSON.stringify(ack)}`);
  return ack;
}
