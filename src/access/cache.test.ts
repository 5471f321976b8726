import { describe, expect, it } from 'vitest';
import { cachedClient } from './cache.ts';
import { domainMatchKey, type ClientSnapshot, type DomainFacts } from './snapshot.ts';

const domain = (domainId: string, name: string): DomainFacts => ({
  domainId,
  domain: name,
  matchKey: domainMatchKey(name),
  active: true,
  allowApi: true,
  allowLogin: true,
  testMode: false,
  serverIps: [],
  ranges: [],
});

const snapshot = (domains: DomainFacts[]): ClientSnapshot => ({
  clientId: 'kc_1',
  organisationId: 'org_1',
  status: 'active',
  planActive: true,
  plan: 'pro',
  requestsPerMinute: 6000,
  scopes: [],
  secrets: [],
  domains,
  testUsers: new Set(),
  position: '1/1',
});

describe('findDomain', () => {
  const www = domain('dom_www', 'www.shop.example');
  const bare = domain('dom_bare', 'shop.example');

  // The read models return rows in no fixed order; a replay folds them in event order. When two
  // domains share a match key, the answer must not depend on that order.
  it.each([
    ['www first', [www, bare]],
    ['bare first', [bare, www]],
  ])('when www.x and x are both domains (%s), then the exact name wins, whatever the order', (_, domains) => {
    const client = cachedClient(snapshot(domains));
    expect(client.findDomain('shop.example')?.domainId).toBe('dom_bare');
    expect(client.findDomain('SHOP.example')?.domainId).toBe('dom_bare');
    expect(client.findDomain('www.shop.example')?.domainId).toBe('dom_www');
    expect(client.findDomain('WWW.Shop.Example')?.domainId).toBe('dom_www');
    expect(client.findDomain('dom_www')?.domainId).toBe('dom_www');
  });

  it('when only one of them exists, then a leading www. is still ignored', () => {
    expect(cachedClient(snapshot([bare])).findDomain('www.shop.example')?.domainId).toBe('dom_bare');
    expect(cachedClient(snapshot([www])).findDomain('shop.example')?.domainId).toBe('dom_www');
  });
});
