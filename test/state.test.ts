import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { signUp } from './support/http.ts';
import { callApi, partnerHeaders } from './support/partner.ts';

/** GET /manage/v1/clients/:clientId/state?at= | ?position= — the client as it was (DESIGN §11). */

let t: TestApp;
let clock = Date.parse('2026-03-01T09:00:00Z');
beforeAll(async () => {
  t = await startTestApp({ now: () => new Date(clock) });
});
afterAll(async () => {
  await t?.close();
});
const tick = (ms = 1_000) => {
  clock += ms;
};
const iso = (ms: number) => new Date(ms).toISOString();

describe('a client at any past time', () => {
  let ada: Awaited<ReturnType<typeof signUp>>;
  let clientId: string;
  let created: number;
  let renamed: number;
  let history: { type: string; at: string; position: string }[];
  const state = (query: string) => ada.caller.get(`/manage/v1/clients/${clientId}/state?${query}`);

  beforeAll(async () => {
    ada = await signUp(t.url, { plan: 'pro' });
    tick();
    created = clock;
    clientId = (await ada.caller.post('/manage/v1/clients', { name: 'Webshop' })).body.clientId;
    tick();
    const { domainId } = (await ada.caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: 'shop.example.com' })).body;
    tick();
    await ada.caller.post(`/manage/v1/clients/${clientId}/secrets`, { label: 'Production', expiresAt: iso(clock + 86_400_000) });
    await ada.caller.post(`/manage/v1/clients/${clientId}/redirect-uris`, { uri: 'https://shop.example.com/cb' });
    await ada.caller.put(`/manage/v1/clients/${clientId}/scopes`, { scopes: ['userinfo'] });
    tick();
    renamed = clock;
    await ada.caller.patch(`/manage/v1/clients/${clientId}`, { name: 'Webshop NL' });
    tick();
    await ada.caller.patch(`/manage/v1/clients/${clientId}/domains/${domainId}`, { serverIps: ['127.0.0.1'], testMode: true });
    tick();
    history = (await ada.caller.get(`/manage/v1/clients/${clientId}/history`)).body.events;
  });

  it('when asked for now, then it equals GET /clients/:clientId exactly, plus asOf', async () => {
    const current = await ada.caller.get(`/manage/v1/clients/${clientId}`);
    const now = await state(`at=${iso(clock)}`);
    expect(now.status).toBe(200);
    const { asOf, ...rest } = now.body;
    expect(rest).toEqual(current.body);
    expect(asOf).toEqual({ at: iso(clock), position: history.at(-1)!.position });
  });

  it('when asked for one second before a rename, then the old name; at the rename, the new one', async () => {
    expect((await state(`at=${iso(renamed - 1_000)}`)).body.name).toBe('Webshop');
    expect((await state(`at=${iso(renamed)}`)).body.name).toBe('Webshop NL');
    const early = (await state(`at=${iso(created)}`)).body;
    expect(early).toMatchObject({ name: 'Webshop', domains: [], scopes: [], redirectUris: [] });
    expect(early.secrets).toEqual([expect.objectContaining({ label: 'Standard Key', status: 'active', domains: [] })]);
  });

  it('when asked for a position of its history, then the state right after that event', async () => {
    const scopes = history.find((e) => e.type === 'ClientScopesChanged')!;
    const before = history[history.indexOf(scopes) - 1]!;
    expect((await state(`position=${before.position}`)).body.scopes).toEqual([]);
    const at = await state(`position=${scopes.position}`);
    expect(at.body.scopes).toEqual(['userinfo']);
    expect(at.body.asOf).toEqual({ at: scopes.at, position: scopes.position });
  });

  it('when the time is before the client existed, then 404 not_yet_created', async () => {
    const reply = await state(`at=${iso(created - 1)}`);
    expect(reply.status).toBe(404);
    expect(reply.body.code).toBe('not_yet_created');
  });

  it.each([
    ['at=2026-03-01T09:00:00', 'at', 'time zone'],
    ['at=yesterday', 'at', 'ISO-8601'],
    ['at=2026-02-30T10:00:00Z', 'at', 'valid date'],
    ['at=1969-12-31T23:59:59Z', 'at', '1970'],
    ['at=2999-01-01T00:00:00Z', 'at', 'future'],
    ['', 'at', 'required'],
    ['at=2026-03-01T09:00:00Z&at=2026-03-01T09:00:01Z', 'at', 'once'],
    ['position=abc', 'position', 'position'],
    ['position=99999999/99999999', 'position', 'not the position'],
    [`at=2026-03-01T09:00:00Z&position=1/1`, 'position', 'not both'],
  ])('when the query is %s, then 400 naming %s', async (query, field, words) => {
    const reply = await state(query);
    expect(reply.status).toBe(400);
    expect(reply.headers.get('content-type')).toContain('application/problem+json');
    expect(reply.body.errors[0].field).toBe(field);
    expect(reply.body.errors[0].message).toContain(words);
  });

  it('accepts an offset and names it in asOf as UTC', async () => {
    const reply = await state(`at=${encodeURIComponent('2026-03-01T10:00:05+01:00')}`);
    expect(reply.status).toBe(200);
    expect(reply.body.asOf.at).toBe('2026-03-01T09:00:05.000Z');
  });

  it("another organisation's client is 404, and so is one that never existed", async () => {
    const other = await signUp(t.url);
    const reply = await other.caller.get(`/manage/v1/clients/${clientId}/state?at=${iso(clock)}`);
    expect(reply.status).toBe(404);
    expect(reply.body.code).toBe('not_found');
    expect((await ada.caller.get(`/manage/v1/clients/kc_nothere/state?at=${iso(clock)}`)).status).toBe(404);
  });

  it('when the client was deleted, then its past states stay readable, and now it is deleted', async () => {
    const { clientId: doomed } = (await ada.caller.post('/manage/v1/clients', { name: 'Doomed' })).body;
    tick();
    const alive = clock;
    tick();
    await ada.caller.delete(`/manage/v1/clients/${doomed}`);
    expect((await ada.caller.get(`/manage/v1/clients/${doomed}`)).status).toBe(404);
    expect((await ada.caller.get(`/manage/v1/clients/${doomed}/state?at=${iso(alive)}`)).body.status).toBe('active');
    expect((await ada.caller.get(`/manage/v1/clients/${doomed}/state?at=${iso(clock)}`)).body.status).toBe('deleted');
  });

  it('lastUsedAt in a past state is the last use known by then', async () => {
    const { clientId: used, secret } = (await ada.caller.post('/manage/v1/clients', { name: 'Used' })).body;
    await ada.caller.post(`/manage/v1/clients/${used}/domains`, { domain: 'used.example.com' });
    tick();
    const before = clock;
    tick(10_000);
    const firstUse = clock;
    expect((await callApi(t.url, '/api/whoami', partnerHeaders({ clientId: used, secret: secret.secret, domain: 'used.example.com' }))).status).toBe(200);
    tick(10_000);
    expect((await callApi(t.url, '/api/whoami', partnerHeaders({ clientId: used, secret: secret.secret, domain: 'used.example.com' }))).status).toBe(200);
    await t.app.access.log.flush();
    const at = async (ms: number) => (await ada.caller.get(`/manage/v1/clients/${used}/state?at=${iso(ms)}`)).body;
    expect((await at(before)).secrets[0].lastUsedAt).toBeNull();
    expect((await at(firstUse + 5_000)).secrets[0].lastUsedAt).toBe(iso(firstUse));
    expect((await at(clock)).secrets[0].lastUsedAt).toBe(iso(clock));
    expect((await at(clock)).domains[0].lastUsedAt).toBe(iso(clock));
  });

  it('when a denial was logged, then its position is a position state accepts', async () => {
    const refused = await callApi(t.url, '/api/whoami', partnerHeaders({ clientId, secret: 'klsk_x', domain: 'shop.example.com' }));
    expect(refused.status).toBe(401);
    const wrong = await callApi(t.url, '/api/whoami', partnerHeaders({ clientId, secret: (await import('../src/clients/secret-format.ts')).generateSecret().secret, domain: 'shop.example.com' }));
    expect(wrong.body.code).toBe('invalid_secret');
    await t.app.access.log.flush();
    const failure = (await ada.caller.get(`/manage/v1/clients/${clientId}/auth-failures`)).body.failures[0];
    const reply = await state(`position=${failure.position}`);
    expect(reply.status).toBe(200);
    expect(reply.body.asOf.position).toBe(failure.position);
  });
});
