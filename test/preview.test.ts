import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { signUp } from './support/http.ts';
import { callApi, partnerHeaders } from './support/partner.ts';

/** POST /manage/v1/clients/:clientId/preview — the impact of a change before it is made (DESIGN §11). */

let t: TestApp;
let clock = Date.now();
beforeAll(async () => {
  t = await startTestApp({ now: () => new Date(clock), env: { TRUST_PROXY: 'true' } });
});
afterAll(async () => {
  await t?.close();
});

describe('impact preview', () => {
  let ada: Awaited<ReturnType<typeof signUp>>;
  let clientId: string;
  let domainId: string;
  let first: { secretId: string; secret: string; hint: string };
  let second: { secretId: string; secret: string; hint: string };
  const domain = 'shop.example.com';
  const call = (secret: string, ip: string) => callApi(t.url, '/api/whoami', partnerHeaders({ clientId, secret, domain }, { 'X-Forwarded-For': ip }));
  const preview = (proposal: unknown, caller = ada.caller) => caller.post(`/manage/v1/clients/${clientId}/preview`, proposal);

  beforeAll(async () => {
    ada = await signUp(t.url, { plan: 'pro' });
    const created = (await ada.caller.post('/manage/v1/clients', { name: 'Webshop' })).body;
    clientId = created.clientId;
    first = created.secret;
    domainId = (await ada.caller.post(`/manage/v1/clients/${clientId}/domains`, { domain })).body.domainId;
    second = (await ada.caller.post(`/manage/v1/clients/${clientId}/secrets`, { label: 'Backup' })).body;
    await ada.caller.post(`/manage/v1/clients/${clientId}/redirect-uris`, { uri: `https://${domain}/cb` });
    for (let i = 0; i < 3; i++) expect((await call(first.secret, '203.0.113.7')).status).toBe(200);
    clock += 60_000;
    for (let i = 0; i < 2; i++) expect((await call(first.secret, '198.51.100.9')).status).toBe(200);
    expect((await call(second.secret, '203.0.113.7')).status).toBe(200);
    const signIn = await callApi(t.url, '/api/sign-token', partnerHeaders({ clientId, secret: second.secret, domain }, { 'X-Forwarded-For': '203.0.113.8' }), { redirect_url: `https://${domain}/cb` });
    expect(signIn.status).toBe(200);
    await t.app.access.log.flush();
  });

  it('when a secret would be revoked, then its callers of the last 24 hours would get secret_revoked, and nothing is written', async () => {
    const before = (await ada.caller.get(`/manage/v1/clients/${clientId}/history`)).body.events.length;
    const reply = await preview({ method: 'DELETE', path: `/clients/${clientId}/secrets/${first.secretId}` });
    expect(reply.status).toBe(200);
    expect(reply.body.events).toEqual(['ClientSecretRevoked']);
    expect(reply.body.wouldRefuse).toEqual([
      { secretId: first.secretId, hint: first.hint, domain, ip: '198.51.100.9', kind: 'api', scope: null, reason: 'secret_revoked', lastSeenAt: new Date(clock).toISOString(), requests: 2 },
      { secretId: first.secretId, hint: first.hint, domain, ip: '203.0.113.7', kind: 'api', scope: null, reason: 'secret_revoked', lastSeenAt: new Date(clock - 60_000).toISOString(), requests: 3 },
    ]);
    expect(reply.body.stillAllowed).toBe(2);
    expect(reply.body.summary).toBe('2 caller(s) seen in the last 24 hours would be refused; 2 would still be allowed.');
    expect((await ada.caller.get(`/manage/v1/clients/${clientId}/history`)).body.events).toHaveLength(before);
    expect((await ada.caller.get(`/manage/v1/clients/${clientId}`)).body.secrets.find((s: { secretId: string }) => s.secretId === first.secretId).status).toBe('active');
  });

  it('when the IP list would be tightened, then only the callers outside it; when sign-in would be turned off, then only the sign-in caller', async () => {
    const tightened = await preview({ method: 'PATCH', path: `/clients/${clientId}/domains/${domainId}`, body: { serverIps: ['203.0.113.0/24'] } });
    expect(tightened.body.wouldRefuse.map((c: { ip: string; reason: string }) => [c.ip, c.reason])).toEqual([['198.51.100.9', 'ip_not_allowed']]);
    expect(tightened.body.stillAllowed).toBe(3);
    const noLogin = await preview({ method: 'PATCH', path: `/clients/${clientId}/domains/${domainId}`, body: { allowLogin: false } });
    expect(noLogin.body.wouldRefuse).toEqual([expect.objectContaining({ secretId: second.secretId, ip: '203.0.113.8', kind: 'login', reason: 'login_not_allowed', requests: 1 })]);
  });

  it('when the plan would be cancelled or the client disabled, then every caller would be refused; in Dutch on request', async () => {
    const cancel = await preview({ method: 'DELETE', path: '/account/plan' }, ada.caller);
    expect(cancel.body.events).toEqual(['PlanCancelled']);
    expect(cancel.body.wouldRefuse.map((c: { reason: string }) => c.reason)).toEqual(['plan_inactive', 'plan_inactive', 'plan_inactive', 'plan_inactive']);
    expect(cancel.body.stillAllowed).toBe(0);
    const disable = await ada.caller.post(`/manage/v1/clients/${clientId}/preview?lang=nl`, { method: 'POST', path: `/clients/${clientId}/disable` });
    expect(disable.body.wouldRefuse).toHaveLength(4);
    expect(disable.body.summary).toBe('4 aanroeper(s) van de afgelopen 24 uur zouden worden geweigerd; 0 zouden nog worden toegestaan.');
    expect((await ada.caller.get('/manage/v1/account/me')).body.plan.status).toBe('active');
  });

  it('when an invalid write is proposed, then the same 4xx as the real write', async () => {
    const cases: [string, string, unknown][] = [
      ['DELETE', `/clients/${clientId}/secrets/sec_doesnotexist`, undefined],
      ['PATCH', `/clients/${clientId}/domains/${domainId}`, { serverIps: ['not an ip'] }],
      ['PATCH', `/clients/${clientId}/domains/${domainId}`, { colour: 'red' }],
      ['POST', `/clients/${clientId}/secrets/${first.secretId}/rotate`, { graceSeconds: -1 }],
      ['PUT', `/clients/${clientId}/scopes`, { scopes: ['everything'] }],
      ['DELETE', `/clients/${clientId}/domains/dom_nope/secrets/${first.secretId}`, undefined],
      ['POST', `/clients/${clientId}/test-users`, { email: 'nobody@example.com' }],
    ];
    for (const [method, path, body] of cases) {
      const previewed = await preview({ method, path, ...(body === undefined ? {} : { body }) });
      const real = await ada.caller.request(method, `/manage/v1${path}`, body);
      expect(real.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect({ status: previewed.status, code: previewed.body.code, errors: previewed.body.errors }, `${method} ${path}`).toEqual({
        status: real.status,
        code: real.body.code,
        errors: real.body.errors,
      });
    }
  });

  it('when the proposal itself is not a client write, then 400 naming the field', async () => {
    for (const [proposal, field] of [
      [{ method: 'GET', path: `/clients/${clientId}` }, 'method'],
      [{ method: 'POST', path: '/clients/kc_someoneelse/disable' }, 'path'],
      [{ method: 'POST', path: `/clients/${clientId}/launch` }, 'path'],
      [{ method: 'DELETE' }, 'path'],
      [{ method: 'DELETE', path: `/clients/${clientId}`, extra: 1 }, '(body)'],
    ] as const) {
      const reply = await preview(proposal);
      expect(reply.status, JSON.stringify(proposal)).toBe(400);
      expect(reply.body.errors[0].field).toBe(field);
    }
  });

  it('when a caller names the domain by its id or in capitals, then a rename refuses only those that used the old name', async () => {
    const own = (await ada.caller.post('/manage/v1/clients', { name: 'Second' })).body;
    const { domainId: id } = (await ada.caller.post(`/manage/v1/clients/${own.clientId}/domains`, { domain: 'old.example.com' })).body;
    const sent = async (domain: string) =>
      expect((await callApi(t.url, '/api/whoami', partnerHeaders({ clientId: own.clientId, secret: own.secret.secret, domain }, { 'X-Forwarded-For': '192.0.2.1' }))).status).toBe(200);
    await sent(id);
    await sent('OLD.example.com:8443');
    await t.app.access.log.flush();
    const reply = await ada.caller.post(`/manage/v1/clients/${own.clientId}/preview`, { method: 'PATCH', path: `/clients/${own.clientId}/domains/${id}`, body: { domain: 'new.example.com' } });
    expect(reply.body.wouldRefuse).toEqual([expect.objectContaining({ domain: 'OLD.example.com', reason: 'unknown_domain' })]);
    expect(reply.body.stillAllowed).toBe(1);
  });

  it("another organisation's client is 404", async () => {
    const other = await signUp(t.url);
    const reply = await other.caller.post(`/manage/v1/clients/${clientId}/preview`, { method: 'POST', path: `/clients/${clientId}/disable` });
    expect(reply.status).toBe(404);
  });

  it('when the change is then made, then its callers really get the reason the preview named', async () => {
    const expected = (await preview({ method: 'DELETE', path: `/clients/${clientId}/secrets/${first.secretId}` })).body.wouldRefuse;
    await ada.caller.delete(`/manage/v1/clients/${clientId}/secrets/${first.secretId}`);
    for (const caller of expected) expect((await call(first.secret, caller.ip)).body.code).toBe(caller.reason);
    // now they are refused already, with or without a further change
    await t.app.access.log.flush();
    const after = await preview({ method: 'POST', path: `/clients/${clientId}/enable` });
    expect(after.body.alreadyRefused.map((c: { ip: string; reason: string }) => [c.ip, c.reason])).toEqual([
      ['198.51.100.9', 'secret_revoked'],
      ['203.0.113.7', 'secret_revoked'],
    ]);
  });

  it('when callers are older than 24 hours, then they are not counted', async () => {
    clock += 25 * 3_600_000;
    const reply = await preview({ method: 'POST', path: `/clients/${clientId}/disable` });
    expect(reply.body).toMatchObject({ wouldRefuse: [], stillAllowed: 0, alreadyRefused: [] });
  });
});
