import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { sql } from 'kysely';
import { toApiError } from '../src/http/problem.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { partnerSetup, type PartnerSetup } from './support/partner.ts';
import { rawRequest, type RawReply } from './support/raw-http.ts';
import { cookieOf, emit, openTicket, supportSocket, supportUser, type Ack } from './support-socket.ts';

/**
 * Issue 7, finding 5: malformed input is a 4xx in the envelope of the API it was sent to —
 * problem+json on /manage, the XWMS envelope on /api, a page on /signin — never a 500. Every
 * input goes to a representative set of routes of every API, and to the support socket's events.
 */

let t: TestApp;
let p: PartnerSetup;
let ticketId: string;
let socket: Socket;
beforeAll(async () => {
  t = await startTestApp({
    partnerApiExtensions: [
      (router) =>
        router.post('/test/decode-and-store', async (req, res) => {
          // e.g. a value that arrives base64-encoded: no guard sees the NUL until the route decodes it
          const value = Buffer.from(String((req.body as { value?: unknown }).value), 'base64').toString('utf8');
          await sql`SELECT ${value}::text AS t, ${JSON.stringify({ value })}::jsonb AS j`.execute(t.app.ctx.database.db);
          res.json({ status: 'success' });
        }),
    ],
  });
  p = await partnerSetup(t.url, { scopes: ['userinfo'] });
  const user = await supportUser(t);
  socket = await supportSocket(t, user.caller);
  ({ ticketId } = await openTicket(socket));
});
afterAll(async () => {
  socket?.disconnect();
  await t?.close();
  // never a 500: nothing was logged as an error on the way
  expect(t.logs.filter((line) => /"level":(50|60)/.test(line))).toEqual([]);
});

type Envelope = 'problem' | 'xwms' | 'page';

interface Route {
  readonly name: string;
  readonly envelope: Envelope;
  readonly method: string;
  /** `:param` marks the path parameter a bad value goes into */
  readonly path: string;
  readonly auth: 'none' | 'session' | 'partner';
  readonly body?: { readonly type: 'json' | 'form'; readonly fields: Record<string, unknown>; readonly field: string };
}

const ROUTES = (): Route[] => [
  { name: 'manage login', envelope: 'problem', method: 'POST', path: '/manage/v1/account/login', auth: 'none', body: { type: 'json', fields: { email: 'a@example.com', password: 'x' }, field: 'email' } },
  { name: 'manage create client', envelope: 'problem', method: 'POST', path: '/manage/v1/clients', auth: 'session', body: { type: 'json', fields: { name: 'Shop' }, field: 'name' } },
  { name: 'manage read client', envelope: 'problem', method: 'GET', path: '/manage/v1/clients/:param', auth: 'session' },
  { name: 'manage rename client', envelope: 'problem', method: 'PATCH', path: '/manage/v1/clients/:param', auth: 'session', body: { type: 'json', fields: { name: 'Shop' }, field: 'name' } },
  { name: 'manage add test user', envelope: 'problem', method: 'POST', path: `/manage/v1/clients/${p.clientId}/test-users`, auth: 'session', body: { type: 'json', fields: { email: 'b@example.com' }, field: 'email' } },
  { name: 'manage revoke secret', envelope: 'problem', method: 'DELETE', path: `/manage/v1/clients/${p.clientId}/secrets/:param`, auth: 'session' },
  { name: 'api countries without credentials', envelope: 'xwms', method: 'POST', path: '/api/global/countries', auth: 'none', body: { type: 'json', fields: { lang: 'en' }, field: 'lang' } },
  { name: 'api countries', envelope: 'xwms', method: 'POST', path: '/api/global/countries', auth: 'partner', body: { type: 'json', fields: { lang: 'en' }, field: 'lang' } },
  { name: 'api sign-token', envelope: 'xwms', method: 'POST', path: '/api/sign-token', auth: 'partner', body: { type: 'json', fields: { redirect_url: 'https://api.example.com/cb' }, field: 'redirect_url' } },
  { name: 'api user info', envelope: 'xwms', method: 'POST', path: '/api/get/user/info', auth: 'partner', body: { type: 'json', fields: { sub: '1' }, field: 'sub' } },
  { name: 'api whoami', envelope: 'xwms', method: 'GET', path: '/api/whoami', auth: 'partner' },
  { name: 'signin page', envelope: 'page', method: 'GET', path: '/signin', auth: 'none' },
  { name: 'signin login form', envelope: 'page', method: 'POST', path: '/signin/login', auth: 'session', body: { type: 'form', fields: { token: 'x'.repeat(43), email: 'a@example.com', password: 'x', csrf: 'y' }, field: 'email' } },
  { name: 'support page', envelope: 'page', method: 'GET', path: '/support', auth: 'session' },
  { name: 'support login page', envelope: 'page', method: 'GET', path: '/support/login', auth: 'none' },
];

interface Input {
  readonly name: string;
  /** the request, or undefined when the input does not apply to the route */
  build(route: Route): { path: string; headers?: Record<string, string>; body?: string; contentType?: string } | undefined;
  /** the envelope the answer comes in, when not the route's own (the HTTP parser answers before any router) */
  readonly envelope?: (route: Route) => Envelope;
  /** what the answer must name */
  readonly names?: (route: Route) => string | undefined;
}

const inPath = (route: Route, value: string) => (route.path.includes(':param') ? route.path.replace(':param', value) : `${route.path}/${value}`);
const jsonBody = (route: Route, value: unknown) => (route.body?.type === 'json' ? JSON.stringify({ ...route.body.fields, [route.body.field]: value }) : undefined);

const INPUTS: Input[] = [
  { name: 'a NUL byte in the path', build: (r) => ({ path: inPath(r, 'kc_a%00b') }), names: (r) => (r.path.includes(':param') ? 'path' : undefined) },
  { name: 'a malformed percent-encoding in the path', build: (r) => ({ path: inPath(r, 'kc_%E0%A4%A') }), names: (r) => (r.path.includes(':param') ? 'path' : undefined) },
  { name: 'an encoded unpaired surrogate in the path', build: (r) => ({ path: inPath(r, 'kc_%ED%A0%80') }) },
  { name: 'a NUL byte in the query', build: (r) => ({ path: `${r.path.replace(':param', 'kc_unknown')}?lang=en%00&token=a%00` }), names: () => 'query' },
  {
    name: 'a NUL byte in a body string',
    build: (r) => {
      if (!r.body) return undefined;
      if (r.body.type === 'form') return { path: r.path, contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams({ ...(r.body.fields as Record<string, string>), [r.body.field]: 'a\u0000b' }).toString() };
      return { path: r.path.replace(':param', p.clientId), contentType: 'application/json', body: jsonBody(r, 'a\u0000b@example.com')! };
    },
    names: (r) => (r.body?.type === 'json' ? r.body.field : undefined),
  },
  {
    name: 'an unpaired surrogate in a JSON body string',
    build: (r) => (r.body?.type === 'json' ? { path: r.path.replace(':param', p.clientId), contentType: 'application/json', body: jsonBody(r, '\uD800x')! } : undefined),
    names: (r) => r.body?.field,
  },
  {
    name: 'a NUL byte in a JSON key',
    build: (r) => (r.body?.type === 'json' ? { path: r.path.replace(':param', p.clientId), contentType: 'application/json', body: JSON.stringify({ ...r.body.fields, 'bad\u0000key': 1 }) } : undefined),
  },
  {
    name: 'more than 1,000 urlencoded parameters',
    build: (r) =>
      r.method === 'GET' || r.method === 'DELETE'
        ? undefined
        : { path: r.path.replace(':param', p.clientId), contentType: 'application/x-www-form-urlencoded', body: Array.from({ length: 1_001 }, (_, i) => `p${i}=1`).join('&') },
  },
  {
    name: 'a 20 kB header',
    build: (r) => ({ path: r.path.replace(':param', p.clientId), headers: { 'x-padding': 'a'.repeat(20_000) } }),
    // refused by the HTTP parser, before any router: the page routes get problem+json
    envelope: (r) => (r.envelope === 'xwms' ? 'xwms' : 'problem'),
  },
];

function send(route: Route, request: NonNullable<ReturnType<Input['build']>>): Promise<RawReply> {
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  if (route.auth === 'session') headers.cookie = cookieOf(p.caller);
  if (route.auth === 'partner') Object.assign(headers, { 'x-client-id': p.clientId, 'x-client-secret': p.secret, 'x-client-domain': p.domain });
  if (request.contentType) headers['content-type'] = request.contentType;
  return rawRequest(t.url, request.path, { method: route.method, headers, ...(request.body !== undefined ? { body: request.body } : {}) });
}

function expectEnvelope(envelope: Envelope, reply: RawReply, names: string | undefined): void {
  // a client error (4xx), never a server error
  expect(Math.floor(reply.status / 100), reply.text).toBe(4);
  const requestId = reply.headers['x-request-id'];
  expect(requestId).toMatch(/.{8,}/);
  switch (envelope) {
    case 'problem':
      expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(reply.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status: reply.status, detail: expect.any(String), code: expect.any(String), requestId });
      if (names) expect(`${reply.body.detail} ${JSON.stringify(reply.body.errors ?? [])}`).toContain(names);
      return;
    case 'xwms':
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      expect(reply.body).toMatchObject({ status: 'error', message: expect.any(String), code: expect.any(String), request_id: requestId, data: null });
      if (names) expect(`${reply.body.message} ${reply.body.field}`).toContain(names);
      return;
    case 'page':
      expect(reply.headers['content-type']).toMatch(/^text\/html/);
      expect(reply.text).toMatch(/^<!doctype html>/i);
      return;
    default: {
      const exhaustive: never = envelope;
      throw new Error(`unknown envelope ${String(exhaustive)}`);
    }
  }
}

describe('malformed input over HTTP: a 4xx in the API’s own envelope', () => {
  for (const input of INPUTS) {
    it(`when ${input.name} is sent to every API, then each answers 4xx in its envelope`, async () => {
      for (const route of ROUTES()) {
        const request = input.build(route);
        if (!request) continue;
        const reply = await send(route, request);
        const envelope = input.envelope?.(route) ?? route.envelope;
        try {
          expectEnvelope(envelope, reply, input.names?.(route));
        } catch (error) {
          throw new Error(`${route.name} (${route.method} ${request.path.slice(0, 80)}): ${(error as Error).message}`);
        }
      }
    });
  }

  it('when a JSON escape \\u0000 only becomes a NUL once parsed, then the guard still names the field', async () => {
    const reply = await send(ROUTES()[0]!, { path: '/manage/v1/account/login', contentType: 'application/json', body: '{"email":"a\\u0000@example.com","password":"x"}' });
    expect(reply.status).toBe(400);
    expectEnvelope('problem', reply, 'email');
    expect(reply.body.errors).toEqual([{ field: 'email', message: expect.stringMatching(/cannot be stored/) }]);
  });
});

describe('a NUL that reaches Postgres anyway (decoded inside a route, past every guard)', () => {
  it('when Postgres refuses the character (22021 in text, 22P05 in jsonb), then the answer is 400 in the envelope, not 500', async () => {
    const reply = await rawRequest(t.url, '/api/test/decode-and-store', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: Buffer.from('a\u0000b').toString('base64') }),
    });
    expectEnvelope('xwms', reply, undefined);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/cannot be stored/) });
    for (const [query, code] of [
      [sql`SELECT ${'a\u0000'}::text`, '22021'],
      [sql`SELECT ${JSON.stringify('a\u0000')}::jsonb`, '22P05'],
    ] as const) {
      const error = await query.execute(t.app.ctx.database.db).then(() => undefined, (e: unknown) => e);
      expect((error as { code?: string }).code).toBe(code);
      expect(toApiError(error)).toMatchObject({ status: 400, code: 'validation_failed' });
    }
  });
});

describe('malformed input on the support socket: refused by name, never internal_error', () => {
  const invalid = (ack: Ack, field: string) => {
    expect(ack.ok, JSON.stringify(ack)).toBe(false);
    if (!ack.ok) {
      expect(ack.error.code).toBe('invalid_payload');
      expect(ack.error.message).toContain(field);
      expect(ack.error.message).toMatch(/cannot be stored/);
    }
  };
  const NUL = 'a\u0000b';
  const SURROGATE = 'a\uD800b';
  const cases = (): [string, unknown, string][] => [
    ['ticket:open', { subject: 'Help', group: 'account', message: 'hello', clientId: `kc_${NUL}` }, 'clientId'],
    ['ticket:open', { subject: NUL, group: 'account', message: 'hello' }, 'subject'],
    ['ticket:open', { subject: 'Help', group: `account${NUL}`, message: 'hello' }, 'group'],
    ['ticket:open', { subject: 'Help', group: 'account', message: SURROGATE }, 'message'],
    ['ticket:message', { ticketId, text: NUL, clientMessageId: 'nul-1' }, 'text'],
    ['ticket:message', { ticketId: `tk_${NUL}`, text: 'hi', clientMessageId: 'nul-2' }, 'ticketId'],
    ['ticket:join', { ticketId: `${ticketId}${NUL}` }, 'ticketId'],
    ['ticket:list', { scope: `mine${NUL}` }, 'scope'],
    ['ticket:status', { ticketId, status: NUL }, 'status'],
    ['ticket:open', { subject: 'Help', group: 'account', message: 'hi', [`extra${NUL}`]: 1 }, 'extra'],
  ];
  it('when a payload carries a NUL byte or an unpaired surrogate anywhere, then the ack is invalid_payload naming the field', async () => {
    for (const [event, payload, field] of cases()) invalid(await emit(socket, event, payload), field);
    // and the socket still works
    expect(await emit(socket, 'ticket:message', { ticketId, text: 'still here', clientMessageId: 'after-nul' })).toMatchObject({ ok: true });
  });
});
