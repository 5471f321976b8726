import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../src/clients/secret-format.ts';
import { clientStream } from '../src/clients/events.ts';
import { clientAggregate } from '../src/clients/state.ts';
import { decide } from '../src/clients/decide.ts';
import { PolicyCache } from '../src/access/cache.ts';
import { START } from '../src/eventstore/port.ts';
import type { ProjectionChange } from '../projections/runner.ts';
import type { ProjectionWatcher } from '../projections/watcher.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { signUp } from './support/http.ts';
import { testClock, withDateStopped } from './support/clock.ts';
import { callApi, callApiFrom, partnerHeaders, partnerSetup, type PartnerSetup } from './support/partner.ts';

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
    expect(reply.body.data.api.endpoints.whoami).toBe(`${t.url}/api/whoami`);
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

describe('a denial flood before authentication (issue 7, finding 8)', () => {
  const LIMIT = 50;
  // a frozen clock (sessions and the decision log read it): the whole flood falls in one minute
  const clock = { at: new Date() };
  let f: TestApp;
  beforeAll(async () => {
    f = await startTestApp({ env: { AUTH_FAILURES_PER_IP: String(LIMIT), AUTH_FAILURE_WINDOW_SECONDS: '3600' }, now: () => clock.at });
  });
  afterAll(async () => {
    await f?.close();
  });

  const randomId = () => `kc_${randomBytes(12).toString('hex')}`;
  const unknownCaller = () => ({ clientId: randomId(), secret: generateSecret().secret, domain: 'shop.example.com' });
  async function inBatches<T>(total: number, size: number, send: () => Promise<T>): Promise<T[]> {
    const replies: T[] = [];
    for (let sent = 0; sent < total; sent += size) replies.push(...(await Promise.all(Array.from({ length: Math.min(size, total - sent) }, send))));
    return replies;
  }

  it('when one address sends 300 random client ids, then at most LIMIT are looked up, the rest are 429 rate_limited, the log keeps a few in full and counts all 300; a partner on another address still works', async () => {
    const partner = await partnerSetup(f.url);
    const lookupsBefore = f.app.access.cache.lookups;
    const replies = await inBatches(300, 30, () => callApiFrom('127.0.0.2', f.url, '/api/whoami', partnerHeaders(unknownCaller())));

    expect(f.app.access.cache.lookups - lookupsBefore).toBeLessThanOrEqual(LIMIT);
    const codes = replies.map((r) => r.body.code);
    expect(codes.filter((c) => c === 'unknown_client')).toHaveLength(LIMIT);
    expect(codes.filter((c) => c === 'rate_limited')).toHaveLength(300 - LIMIT);
    const throttled = replies.find((r) => r.body.code === 'rate_limited')!;
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(throttled.body.request_id).toBe(throttled.headers.get('x-request-id'));

    // the throttled address is refused before any lookup, even with good credentials …
    expect((await callApiFrom('127.0.0.2', f.url, '/api/whoami', partnerHeaders(partner))).body.code).toBe('rate_limited');
    // … while the same machine's other address is served
    expect((await callApiFrom('127.0.0.1', f.url, '/api/whoami', partnerHeaders(partner))).status).toBe(200);

    await f.app.access.log.flush();
    const db = f.app.ctx.database.db;
    const full = await db.selectFrom('auth_denials').select(['request_id', 'reason']).where('ip', '=', '127.0.0.2').execute();
    expect(full.length).toBeLessThanOrEqual(2 * 10); // two groups (unknown_client, rate_limited), 10 samples each
    const sampledIds = new Set(full.map((r) => r.request_id));
    expect(replies.filter((r) => sampledIds.has(r.body.request_id!))).toHaveLength(full.length);
    const counts = await db.selectFrom('auth_denial_counts').selectAll().where('ip', '=', '127.0.0.2').orderBy('reason').execute();
    expect(counts.map((c) => [c.client_id, c.reason, Number(c.count), Number(c.sampled)])).toEqual([
      ['', 'rate_limited', 300 - LIMIT + 1, 10],
      ['', 'unknown_client', LIMIT, 10],
    ]);
  }, 120_000);

  it('when a partner sends many good requests, some right after a change, then its own traffic never throttles it', async () => {
    const partner = await partnerSetup(f.url);
    const statuses: number[] = [];
    for (let round = 0; round < 3; round++) {
      // every round starts after a change: the first requests miss the cache together
      await partner.caller.patch(`/manage/v1/clients/${partner.clientId}`, { name: `Partner app ${round}` });
      const replies = await inBatches(2 * LIMIT, 2 * LIMIT, () => callApiFrom('127.0.0.3', f.url, '/api/whoami', partnerHeaders(partner)));
      statuses.push(...replies.map((r) => r.status));
    }
    expect(statuses).toHaveLength(6 * LIMIT);
    expect(statuses.every((s) => s === 200)).toBe(true);
  }, 120_000);

  it('when a change to a client in use answers, then this node already decides by it: the next request needs no lookup', async () => {
    const partner = await partnerSetup(f.url);
    const cache = f.app.access.cache;
    expect((await callApiFrom('127.0.0.5', f.url, '/api/whoami', partnerHeaders(partner))).status).toBe(200); // in use: cached
    for (let round = 0; round < 3; round++) {
      expect((await partner.caller.patch(`/manage/v1/clients/${partner.clientId}`, { name: `Renamed ${round}` })).status).toBe(200);
      // the write answered after the cache's refresh: not missing, not loading
      expect(cache.willQuery(partner.clientId)).toBe(false);
      expect(cache.get(partner.clientId)).not.toBeInstanceOf(Promise);
    }
    expect((await partner.caller.post(`/manage/v1/clients/${partner.clientId}/disable`, {})).status).toBe(200);
    expect(cache.get(partner.clientId)).not.toBeInstanceOf(Promise);
    expect((await callApiFrom('127.0.0.5', f.url, '/api/whoami', partnerHeaders(partner))).body.code).toBe('client_disabled');
  });

  it('when a client is registered under an id that was just refused as unknown, then it is known at once', async () => {
    const { caller } = await signUp(f.url);
    const organisationId = (await caller.get('/manage/v1/account/me')).body.organisation.id as string;
    const clientId = randomId();
    const secret = generateSecret();
    const headers = partnerHeaders({ clientId, secret: secret.secret, domain: 'late.example.com' });
    expect((await callApiFrom('127.0.0.4', f.url, '/api/whoami', headers)).body.code).toBe('unknown_client');
    const lookups = f.app.access.cache.lookups;
    expect((await callApiFrom('127.0.0.4', f.url, '/api/whoami', headers)).body.code).toBe('unknown_client');
    expect(f.app.access.cache.lookups).toBe(lookups); // remembered: no second lookup

    const registered = await f.app.ctx.commands.handle(
      clientStream(clientId),
      clientAggregate,
      { type: 'RegisterClient', key: `${clientId}/test`, metadata: { actor: 'test', correlationId: 'c', causationId: 'c', requestId: 'r', ip: null, userAgent: null, at: clock.at.toISOString() } },
      (state) =>
        decide({ type: 'RegisterClient', clientId, organisationId, name: 'Late', secretId: 'sec_late', secretHash: secret.secretHash, hint: secret.hint, now: clock.at.toISOString() }, state),
    );
    expect(await f.app.ctx.watcher.waitFor(registered.append!.position, 10_000)).toBe(true);
    // the client exists now (it has no domain yet): the next request gets past the lookup
    expect((await callApiFrom('127.0.0.4', f.url, '/api/whoami', headers)).body.code).toBe('unknown_domain');
    expect((await caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: 'late.example.com' })).status).toBe(201);
    expect((await callApiFrom('127.0.0.4', f.url, '/api/whoami', headers)).status).toBe(200);
  });

  it('unknown ids are remembered apart from real clients, for a while, and forgotten when such a client appears: a flood of them evicts no client', async () => {
    const partner = await partnerSetup(f.url);
    // The real database, and a watcher this test drives: no late notification of the setup's
    // own writes can drop the entry under observation.
    const changes = new Set<(change: ProjectionChange) => void>();
    const watcher = {
      ...f.app.ctx.watcher,
      connected: () => true,
      onChange: (listener: (change: ProjectionChange) => void) => (changes.add(listener), () => changes.delete(listener)),
      onReset: () => () => {},
    } satisfies ProjectionWatcher;
    const at = { now: new Date('2026-03-02T09:00:00Z') };
    const cache = new PolicyCache(f.app.ctx.database, watcher, { maxClients: 5, maxUnknown: 5, unknownTtlMs: 30_000, now: () => at.now });
    try {
      expect(await cache.get(partner.clientId)).toBeDefined();
      for (let i = 0; i < 20; i++) expect(await cache.get(randomId())).toBeUndefined();
      expect(cache.get(partner.clientId)).not.toBeInstanceOf(Promise); // still cached
      expect(cache.lookups).toBe(21);

      const unknown = randomId();
      expect(await cache.get(unknown)).toBeUndefined();
      expect(cache.willQuery(unknown)).toBe(false);
      at.now = new Date(at.now.getTime() + 30_001);
      expect(cache.willQuery(unknown)).toBe(true); // forgotten after its time

      expect(await cache.get(unknown)).toBeUndefined();
      expect(cache.willQuery(unknown)).toBe(false);
      for (const listener of changes) listener({ lane: 'policy', position: START, clientIds: [unknown], organisationIds: [], all: false });
      expect(cache.willQuery(unknown)).toBe(true); // a client with that id appeared
    } finally {
      cache.stop();
    }
  });
});

describe('GET /manage/v1/clients/:clientId/auth-failures counts what it does not list in full', () => {
  it('when a client is refused more often than the log samples, then counts per minute, reason and address add up to every refusal', async () => {
    const p = await partnerSetup(t.url);
    const wrong = { ...p, secret: generateSecret().secret };
    const replies = await Promise.all(Array.from({ length: 25 }, () => callApiFrom('127.0.0.5', t.url, '/api/whoami', partnerHeaders(wrong))));
    expect(replies.every((r) => r.body.code === 'invalid_secret')).toBe(true);
    await t.app.access.log.flush();
    const failures = (await p.caller.get(`/manage/v1/clients/${p.clientId}/auth-failures`)).body;
    const counts = failures.counts as { minute: string; reason: string; ip: string; count: number; sampled: number }[];
    // one group a minute (the 25 may straddle a minute boundary), at most 10 kept in full each
    expect(counts.every((c) => c.reason === 'invalid_secret' && c.ip === '127.0.0.5' && c.sampled <= 10)).toBe(true);
    expect(counts.reduce((sum, c) => sum + c.count, 0)).toBe(25);
    expect(counts.reduce((sum, c) => sum + c.sampled, 0)).toBe(failures.failures.length);
    expect(failures.failures.length).toBeLessThanOrEqual(10 * counts.length);
  });
});
