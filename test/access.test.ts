import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../src/clients/secret-format.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { testClock, withDateStopped } from './support/clock.ts';
import { callApi, partnerHeaders, partnerSetup, type PartnerSetup } from './support/partner.ts';

let t: TestApp;
const clock = testClock();
beforeAll(async () => {
  t = await startTestApp({ now: clock.now });
});
afterAll(async () => {
  await t?.close();
});

const whoami = (p: { clientId: string; secret: string; domain: string }, extra: Record<string, string> = {}) =>
  callApi(t.url, '/api/whoami', partnerHeaders(p, extra));

async function expectDenied(reply: Awaited<ReturnType<typeof callApi>>, status: number, code: string) {
  expect(reply.status).toBe(status);
  expect(reply.body).toMatchObject({ status: 'error', code, data: null });
  expect(typeof reply.body.message).toBe('string');
  expect(reply.body.request_id).toBe(reply.headers.get('x-request-id'));
}

describe('the access pipeline allows', () => {
  it('when the three headers are right, then whoami names the client, domain and scopes', async () => {
    const p = await partnerSetup(t.url, { scopes: ['userinfo'] });
    const reply = await whoami(p);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      status: 'success',
      message: 'OK',
      data: { client_id: p.clientId, domain: 'api.example.com', domain_id: p.domainId, test_mode: false, scopes: ['userinfo'] },
    });
  });

  it('matches the domain ignoring case, a leading www. and a port, or by domainId', async () => {
    const p = await partnerSetup(t.url);
    for (const domain of ['API.Example.COM', 'www.api.example.com', 'api.example.com:8443', 'WWW.api.example.com:443', p.domainId]) {
      const reply = await whoami({ ...p, domain });
      expect(reply.status, domain).toBe(200);
      expect(reply.body.data.domain_id).toBe(p.domainId);
    }
  });

  it('GET /api/info needs no credentials and answers in the envelope', async () => {
    const reply = await callApi(t.url, '/api/info', { Accept: 'application/json', 'User-Agent': 'xwms-sdk-test' });
    expect(reply.status).toBe(200);
    expect(reply.body.data.application.name).toBe('Keyledger');
    expect(reply.body.data.client).toEqual({ ip: '127.0.0.1', user_agent: 'xwms-sdk-test' });
    expect(reply.body.data.api.endpoints.map((e: { path: string }) => e.path)).toContain('/api/whoami');
  });
});

describe('each reason code of DESIGN §6, over HTTP', () => {
  let p: PartnerSetup;
  beforeAll(async () => {
    p = await partnerSetup(t.url);
  });

  it('1 missing_credentials: missing, empty, duplicated, 8 kB, non-ASCII values and a bad checksum', async () => {
    const bad: Record<string, string>[] = [
      { 'X-Client-Domain': p.domain, 'X-Client-Secret': p.secret },
      { 'X-Client-Id': '', 'X-Client-Secret': p.secret, 'X-Client-Domain': p.domain },
      { 'X-Client-Id': `${p.clientId}, ${p.clientId}`, 'X-Client-Secret': p.secret, 'X-Client-Domain': p.domain },
      { 'X-Client-Id': p.clientId, 'X-Client-Secret': p.secret, 'X-Client-Domain': 'a'.repeat(8_192) },
      { 'X-Client-Id': p.clientId, 'X-Client-Secret': `${p.secret}${'x'.repeat(8_000)}`, 'X-Client-Domain': p.domain },
      { 'X-Client-Id': p.clientId, 'X-Client-Secret': p.secret, 'X-Client-Domain': 'bücher.example' },
      { 'X-Client-Id': p.clientId, 'X-Client-Secret': p.secret.slice(0, -1) + (p.secret.endsWith('A') ? 'B' : 'A'), 'X-Client-Domain': p.domain },
      { 'X-Client-Id': p.clientId, 'X-Client-Secret': 'not-a-secret', 'X-Client-Domain': p.domain },
    ];
    for (const headers of bad) await expectDenied(await callApi(t.url, '/api/whoami', headers), 401, 'missing_credentials');
  });

  it('2 unknown_client', async () => {
    await expectDenied(await whoami({ ...p, clientId: 'kc_doesnotexist0000000' }), 401, 'unknown_client');
  });

  it('5 invalid_secret: a well-formed secret that is not this client’s', async () => {
    await expectDenied(await whoami({ ...p, secret: generateSecret().secret }), 401, 'invalid_secret');
  });

  it('7 unknown_domain', async () => {
    await expectDenied(await whoami({ ...p, domain: 'other.example.com' }), 403, 'unknown_domain');
    await expectDenied(await whoami({ ...p, domain: 'evil-api.example.com' }), 403, 'unknown_domain');
  });

  it('11 ip_not_allowed, and allowed again when the list includes the caller', async () => {
    const q = await partnerSetup(t.url, { domainSettings: { serverIps: ['203.0.113.5', '2001:db8::/32'] } });
    await expectDenied(await whoami(q), 403, 'ip_not_allowed');
    // X-Forwarded-For is not trusted without TRUST_PROXY
    await expectDenied(await whoami(q, { 'X-Forwarded-For': '203.0.113.5' }), 403, 'ip_not_allowed');
    await q.caller.patch(`/manage/v1/clients/${q.clientId}/domains/${q.domainId}`, { serverIps: ['127.0.0.0/8'] });
    expect((await whoami(q)).status).toBe(200);
  });

  it('12 scope_missing on an endpoint that needs useraddresses', async () => {
    const q = await partnerSetup(t.url, { scopes: ['userinfo'] });
    const reply = await callApi(t.url, '/api/get/user/address', partnerHeaders(q), { sub: 1 });
    await expectDenied(reply, 403, 'scope_missing');
  });

  it('13 rate_limited with Retry-After past the plan’s requests per minute', async () => {
    const q = await partnerSetup(t.url, { plan: 'starter' });
    // the limiter counts in windows of wall-clock time: with Date stopped, all of this is one minute
    await withDateStopped(async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 600; i += 50) {
        const batch = await Promise.all(Array.from({ length: 50 }, () => whoami(q)));
        statuses.push(...batch.map((r) => r.status));
      }
      expect(statuses.every((s) => s === 200)).toBe(true);
      const limited = await whoami(q);
      await expectDenied(limited, 429, 'rate_limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });
});

describe('reason codes that follow a management change, effective on the very next request', () => {
  it('3 plan_inactive after the plan is cancelled, for every client of the organisation', async () => {
    const p = await partnerSetup(t.url);
    expect((await whoami(p)).status).toBe(200);
    expect((await p.caller.delete('/manage/v1/account/plan')).status).toBe(200);
    await expectDenied(await whoami(p), 403, 'plan_inactive');
  });

  it('4 client_disabled, and back after enable', async () => {
    const p = await partnerSetup(t.url);
    expect((await whoami(p)).status).toBe(200);
    await p.caller.post(`/manage/v1/clients/${p.clientId}/disable`);
    await expectDenied(await whoami(p), 403, 'client_disabled');
    await p.caller.post(`/manage/v1/clients/${p.clientId}/enable`);
    expect((await whoami(p)).status).toBe(200);
    await p.caller.delete(`/manage/v1/clients/${p.clientId}`);
    await expectDenied(await whoami(p), 401, 'unknown_client');
  });

  it('6 secret_revoked and secret_expired (rotation without grace; expiry and grace to the millisecond)', async () => {
    const p = await partnerSetup(t.url);
    const extra = (await p.caller.post(`/manage/v1/clients/${p.clientId}/secrets`, { label: 'extra' })).body;
    expect((await whoami({ ...p, secret: extra.secret })).status).toBe(200);
    await p.caller.delete(`/manage/v1/clients/${p.clientId}/secrets/${extra.secretId}`);
    await expectDenied(await whoami({ ...p, secret: extra.secret }), 401, 'secret_revoked');

    const rotated = (await p.caller.post(`/manage/v1/clients/${p.clientId}/secrets/${p.secretId}/rotate`, {})).body;
    await expectDenied(await whoami(p), 401, 'secret_expired');
    expect((await whoami({ ...p, secret: rotated.secret })).status).toBe(200);

    // The app's clock stands still from here and moves only when the test moves it: expiry and
    // grace are checked at their exact millisecond, however long the requests take.
    const start = clock.freeze();
    try {
      const graced = (await p.caller.post(`/manage/v1/clients/${p.clientId}/secrets/${rotated.secretId}/rotate`, { graceSeconds: 60 })).body;
      const graceUntil = start + 60_000;
      expect((await whoami({ ...p, secret: rotated.secret })).status).toBe(200);
      expect((await whoami({ ...p, secret: graced.secret })).status).toBe(200);

      const expiresAt = start + 30_000;
      const expiring = (await p.caller.post(`/manage/v1/clients/${p.clientId}/secrets`, { expiresAt: new Date(expiresAt).toISOString() })).body;
      expect((await whoami({ ...p, secret: expiring.secret })).status).toBe(200);
      clock.advance(expiresAt - 1 - clock.ms());
      expect((await whoami({ ...p, secret: expiring.secret })).status).toBe(200);
      clock.advance(1);
      await expectDenied(await whoami({ ...p, secret: expiring.secret }), 401, 'secret_expired');

      expect((await whoami({ ...p, secret: rotated.secret })).status).toBe(200);
      clock.advance(graceUntil - 1 - clock.ms());
      expect((await whoami({ ...p, secret: rotated.secret })).status).toBe(200);
      clock.advance(1);
      await expectDenied(await whoami({ ...p, secret: rotated.secret }), 401, 'secret_expired');
      expect((await whoami({ ...p, secret: graced.secret })).status).toBe(200);
    } finally {
      clock.release();
    }
  });

  it('8 domain_inactive, 9 secret_not_linked, 10 api_not_allowed', async () => {
    const p = await partnerSetup(t.url);
    const domainPath = `/manage/v1/clients/${p.clientId}/domains/${p.domainId}`;
    await p.caller.patch(domainPath, { active: false });
    await expectDenied(await whoami(p), 403, 'domain_inactive');
    await p.caller.patch(domainPath, { active: true });
    await p.caller.delete(`${domainPath}/secrets/${p.secretId}`);
    await expectDenied(await whoami(p), 403, 'secret_not_linked');
    await p.caller.put(`${domainPath}/secrets/${p.secretId}`);
    await p.caller.patch(domainPath, { allowApi: false });
    await expectDenied(await whoami(p), 403, 'api_not_allowed');
    await p.caller.patch(domainPath, { allowApi: true });
    expect((await whoami(p)).status).toBe(200);
  });

  it('10 login_not_allowed on a sign-in endpoint', async () => {
    const p = await partnerSetup(t.url, { domainSettings: { allowLogin: false } });
    const reply = await callApi(t.url, '/api/sign-token', partnerHeaders(p), { redirect_url: 'https://api.example.com/cb' });
    await expectDenied(reply, 403, 'login_not_allowed');
  });

  it('when several checks fail, then the earliest in DESIGN §6 order is reported', async () => {
    const p = await partnerSetup(t.url, { domainSettings: { serverIps: ['203.0.113.5'] } });
    await p.caller.patch(`/manage/v1/clients/${p.clientId}/domains/${p.domainId}`, { active: false, allowApi: false });
    await expectDenied(await whoami(p), 403, 'domain_inactive');
    await expectDenied(await whoami({ ...p, secret: generateSecret().secret }), 401, 'invalid_secret');
    await p.caller.post(`/manage/v1/clients/${p.clientId}/disable`);
    await expectDenied(await whoami({ ...p, secret: generateSecret().secret }), 403, 'client_disabled');
  });
});

describe('the decision log', () => {
  it('records every denial with its reason, domain as sent and position, newest first, never the secret', async () => {
    const p = await partnerSetup(t.url);
    const wrong = generateSecret().secret;
    const first = await whoami({ ...p, secret: wrong });
    const second = await whoami({ ...p, domain: 'Nope.Example.com:444' });
    expect((await whoami(p)).status).toBe(200);
    await t.app.access.log.flush();

    const failures = await p.caller.get(`/manage/v1/clients/${p.clientId}/auth-failures`);
    expect(failures.status).toBe(200);
    expect(failures.body.failures.map((f: { requestId: string }) => f.requestId)).toEqual([
      second.headers.get('x-request-id'),
      first.headers.get('x-request-id'),
    ]);
    expect(failures.body.failures[0]).toMatchObject({ reason: 'unknown_domain', domain: 'Nope.Example.com:444', endpoint: 'GET /api/whoami', ip: '127.0.0.1', status: 403 });
    expect(failures.body.failures[1].reason).toBe('invalid_secret');
    expect(failures.body.failures[1].position).toMatch(/^\d+\/\d+$/);

    const rows = await t.app.ctx.database.db.selectFrom('auth_denials').selectAll().where('client_id', '=', p.clientId).execute();
    const text = JSON.stringify(rows);
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(p.secret);
    const { createHash } = await import('node:crypto');
    expect(rows.map((r) => r.secret_sha256)).toContain(createHash('sha256').update(wrong).digest('hex'));

    const allows = await t.app.ctx.database.db.selectFrom('auth_allow_counts').selectAll().where('client_id', '=', p.clientId).execute();
    expect(allows.map((a) => [a.domain_id, Number(a.count)])).toEqual([[p.domainId, 1]]);
    expect(t.logs.join('\n')).not.toContain(wrong);
  });

  it("another organisation's auth-failures are 404", async () => {
    const p = await partnerSetup(t.url);
    const other = await partnerSetup(t.url);
    expect((await other.caller.get(`/manage/v1/clients/${p.clientId}/auth-failures`)).status).toBe(404);
  });
});
