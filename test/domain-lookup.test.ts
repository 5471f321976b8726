import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientEvent, DomainSettings } from '../src/clients/events.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { callApi, partnerHeaders, partnerSetup, type PartnerSetup } from './support/partner.ts';

let t: TestApp;
beforeAll(async () => {
  // A write answers once projected; on a cold, busy machine the first projection can take
  // seconds. The bound is only a safety net, so make it generous.
  t = await startTestApp({ env: { WRITE_WAIT_MS: '30000' } });
});
afterAll(async () => {
  await t?.close();
});

const whoami = (p: PartnerSetup, domain: string) => callApi(t.url, '/api/whoami', partnerHeaders({ ...p, domain }));

/**
 * Writes a domain straight into the client's stream, as streams written before the aggregate
 * refused a shared lookup key may hold one, and waits until the read models have it.
 */
async function appendOldDomain(p: PartnerSetup, domain: string, extra: Partial<DomainSettings> = {}): Promise<string> {
  const domainId = `dom_old${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const events: ClientEvent[] = [
    {
      type: 'DomainAdded',
      data: { domainId, domain, serverIps: [], internalName: null, logo: null, fallbackUri: null, allowLogin: true, allowApi: true, active: true, primary: false, testMode: false, ...extra },
    },
    { type: 'SecretLinkedToDomain', data: { secretId: p.secretId, domainId } },
  ];
  const metadata = { actor: 'system', correlationId: randomUUID(), causationId: randomUUID(), requestId: randomUUID(), ip: null, userAgent: null, at: new Date().toISOString() };
  const result = await t.app.ctx.store.append(
    `client-${p.clientId}`,
    events.map((event) => ({ id: randomUUID(), type: event.type, data: event.data, metadata })),
    { expectedRevision: 'stream_exists' },
  );
  expect(await t.app.ctx.watcher.waitFor(result.position, 10_000)).toBe(true);
  return domainId;
}

describe('an old stream holding both shop.example.com and www.shop.example.com', () => {
  it('when the bare domain has an IP allowlist and the www. one was added after it, then a call for the bare domain is held to its allowlist', async () => {
    const p = await partnerSetup(t.url, { domain: 'shop.example.com', domainSettings: { serverIps: ['203.0.113.5'] } });
    const wwwId = await appendOldDomain(p, 'www.shop.example.com');
    for (const sent of ['shop.example.com', 'SHOP.example.com:443', 'shop.example.com.']) {
      const reply = await whoami(p, sent);
      expect(reply.status, sent).toBe(403);
      expect(reply.body.code, sent).toBe('ip_not_allowed');
    }
    // the www. domain, named exactly, answers with its own (open) settings
    const www = await whoami(p, 'www.shop.example.com');
    expect(www.status).toBe(200);
    expect(www.body.data.domain_id).toBe(wwwId);
  });

  it('when the bare domain has "Allow API" off, then a call for the bare domain is refused with api_not_allowed', async () => {
    const p = await partnerSetup(t.url, { domain: 'shop.example.com', domainSettings: { allowApi: false } });
    await appendOldDomain(p, 'www.shop.example.com');
    const reply = await whoami(p, 'shop.example.com');
    expect(reply.status).toBe(403);
    expect(reply.body.code).toBe('api_not_allowed');
  });

  it('when the www. domain is the strict one and the bare one was added after it, then a call for www. is held to the www. allowlist', async () => {
    const p = await partnerSetup(t.url, { domain: 'www.shop.example.com', domainSettings: { serverIps: ['203.0.113.5'] } });
    const bareId = await appendOldDomain(p, 'shop.example.com');
    const reply = await whoami(p, 'www.shop.example.com');
    expect(reply.status).toBe(403);
    expect(reply.body.code).toBe('ip_not_allowed');
    const bare = await whoami(p, 'shop.example.com');
    expect(bare.status).toBe(200);
    expect(bare.body.data.domain_id).toBe(bareId);
  });

  it('when two stored spellings are the same host, then a call for it is refused as unknown_domain, never guessed', async () => {
    const p = await partnerSetup(t.url, { domain: 'shop.example.com', domainSettings: { serverIps: ['203.0.113.5'] } });
    await appendOldDomain(p, 'Shop.Example.com');
    const reply = await whoami(p, 'shop.example.com');
    expect(reply.status).toBe(403);
    expect(reply.body.code).toBe('unknown_domain');
  });
});

describe('adding or renaming a domain onto another domain’s lookup key', () => {
  it('is refused with 409 domain_conflict naming the existing domain and its domainId, and nothing is written', async () => {
    const p = await partnerSetup(t.url, { domain: 'shop.example.com' });
    const before = (await p.caller.get(`/manage/v1/clients/${p.clientId}/history`)).body;
    for (const domain of ['www.shop.example.com', 'WWW.Shop.Example.COM']) {
      const reply = await p.caller.post(`/manage/v1/clients/${p.clientId}/domains`, { domain });
      expect(reply.status, domain).toBe(409);
      expect(reply.headers.get('content-type')).toContain('application/problem+json');
      expect(reply.body.code).toBe('domain_conflict');
      expect(reply.body.detail).toContain(`shop.example.com (domainId ${p.domainId})`);
    }
    const other = await p.caller.post(`/manage/v1/clients/${p.clientId}/domains`, { domain: 'api.example.com' });
    expect(other.status).toBe(201);
    const renamed = await p.caller.patch(`/manage/v1/clients/${p.clientId}/domains/${other.body.domainId}`, { domain: 'www.shop.example.com' });
    expect(renamed.status).toBe(409);
    expect(renamed.body.code).toBe('domain_conflict');
    expect(renamed.body.detail).toContain(p.domainId);
    const after = (await p.caller.get(`/manage/v1/clients/${p.clientId}/history`)).body;
    expect(JSON.stringify(after)).not.toContain('www.shop.example.com');
    expect(JSON.stringify(after).length).toBeGreaterThan(JSON.stringify(before).length);
  });

  it('an internationalised name in Unicode and its punycode www. form are one key', async () => {
    const p = await partnerSetup(t.url, { domain: 'bücher.example' });
    const reply = await p.caller.post(`/manage/v1/clients/${p.clientId}/domains`, { domain: 'www.xn--bcher-kva.example' });
    expect(reply.status).toBe(409);
    expect(reply.body.code).toBe('domain_conflict');
    expect(reply.body.detail).toContain(`xn--bcher-kva.example (domainId ${p.domainId})`);
    const call = await whoami(p, 'WWW.XN--BCHER-KVA.example');
    expect(call.status).toBe(200);
    expect(call.body.data.domain_id).toBe(p.domainId);
  });
});
