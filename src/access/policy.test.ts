import { describe, expect, it } from 'vitest';
import { buildPolicy, decideCall, type CallFacts } from './policy.ts';
import { ipAllowed, parseCallerIp, type ClientSnapshot, type DomainFacts } from './snapshot.ts';
import ipaddr from 'ipaddr.js';

const domain = (over: Partial<DomainFacts> = {}): DomainFacts => ({
  domainId: 'dom_1',
  domain: 'api.example.com',
  host: 'api.example.com',
  matchKey: 'api.example.com',
  active: true,
  allowApi: true,
  allowLogin: true,
  testMode: false,
  serverIps: [],
  ranges: [],
  ...over,
});

const client = (over: Partial<ClientSnapshot> = {}): ClientSnapshot => ({
  clientId: 'kc_1',
  organisationId: 'org_1',
  status: 'active',
  planActive: true,
  plan: 'pro',
  requestsPerMinute: 6000,
  scopes: ['userinfo'],
  secrets: [
    { secretId: 'sec_live', hash: Buffer.alloc(32), status: 'active', expiresAt: null, graceUntil: null, linkedDomainIds: new Set(['dom_1']) },
    { secretId: 'sec_unlinked', hash: Buffer.alloc(32), status: 'active', expiresAt: null, graceUntil: null, linkedDomainIds: new Set() },
    { secretId: 'sec_old', hash: Buffer.alloc(32), status: 'rotated', expiresAt: null, graceUntil: 2_000, linkedDomainIds: new Set(['dom_1']) },
    { secretId: 'sec_gone', hash: Buffer.alloc(32), status: 'revoked', expiresAt: null, graceUntil: null, linkedDomainIds: new Set(['dom_1']) },
    { secretId: 'sec_expiring', hash: Buffer.alloc(32), status: 'active', expiresAt: 5_000, graceUntil: null, linkedDomainIds: new Set(['dom_1']) },
  ],
  domains: [domain()],
  testUsers: new Set(),
  position: '1/1',
  ...over,
});

const facts = (over: Partial<CallFacts> = {}): CallFacts => ({ secretId: 'sec_live', kind: 'api', ipAllowed: true, scope: null, now: 1_000, ...over });
const reason = (c: ClientSnapshot, d: DomainFacts | undefined, f: CallFacts) => {
  const decision = decideCall(buildPolicy(c, d), f);
  return decision.allowed ? 'allowed' : decision.reason;
};

describe('the CASL policy of one (client, domain)', () => {
  it('allows a linked, active secret on an active domain', () => {
    expect(reason(client(), domain(), facts())).toBe('allowed');
    expect(reason(client(), domain(), facts({ scope: 'userinfo' }))).toBe('allowed');
  });

  it('names each failing rule', () => {
    expect(reason(client({ planActive: false }), domain(), facts())).toBe('plan_inactive');
    expect(reason(client({ status: 'disabled' }), domain(), facts())).toBe('client_disabled');
    expect(reason(client(), domain(), facts({ secretId: null }))).toBe('invalid_secret');
    expect(reason(client(), domain(), facts({ secretId: 'sec_gone' }))).toBe('secret_revoked');
    expect(reason(client(), undefined, facts())).toBe('unknown_domain');
    expect(reason(client(), domain({ active: false }), facts())).toBe('domain_inactive');
    expect(reason(client(), domain(), facts({ secretId: 'sec_unlinked' }))).toBe('secret_not_linked');
    expect(reason(client(), domain({ allowApi: false }), facts())).toBe('api_not_allowed');
    expect(reason(client(), domain({ allowLogin: false }), facts({ kind: 'login' }))).toBe('login_not_allowed');
    expect(reason(client(), domain({ allowLogin: false }), facts({ kind: 'api' }))).toBe('allowed');
    expect(reason(client(), domain(), facts({ ipAllowed: false }))).toBe('ip_not_allowed');
    expect(reason(client(), domain(), facts({ scope: 'useraddresses' }))).toBe('scope_missing');
  });

  it('honours expiry and rotation grace to the millisecond', () => {
    expect(reason(client(), domain(), facts({ secretId: 'sec_old', now: 1_999 }))).toBe('allowed');
    expect(reason(client(), domain(), facts({ secretId: 'sec_old', now: 2_000 }))).toBe('secret_expired');
    expect(reason(client(), domain(), facts({ secretId: 'sec_expiring', now: 4_999 }))).toBe('allowed');
    expect(reason(client(), domain(), facts({ secretId: 'sec_expiring', now: 5_000 }))).toBe('secret_expired');
  });

  it('reports the earliest check when several fail', () => {
    const everythingWrong = facts({ secretId: null, kind: 'api', ipAllowed: false, scope: 'useraddresses' });
    expect(reason(client({ planActive: false, status: 'disabled' }), domain({ active: false, allowApi: false }), everythingWrong)).toBe('plan_inactive');
    expect(reason(client({ status: 'disabled' }), undefined, everythingWrong)).toBe('client_disabled');
    expect(reason(client(), undefined, everythingWrong)).toBe('invalid_secret');
    expect(reason(client(), undefined, facts({ secretId: 'sec_gone' }))).toBe('secret_revoked');
    expect(reason(client(), domain({ active: false, allowApi: false }), facts({ secretId: 'sec_unlinked', ipAllowed: false }))).toBe('domain_inactive');
    expect(reason(client(), domain({ allowApi: false }), facts({ secretId: 'sec_unlinked', ipAllowed: false }))).toBe('secret_not_linked');
    expect(reason(client(), domain({ allowApi: false }), facts({ ipAllowed: false, scope: 'useraddresses' }))).toBe('api_not_allowed');
    expect(reason(client(), domain(), facts({ ipAllowed: false, scope: 'useraddresses' }))).toBe('ip_not_allowed');
  });
});

describe('IP rules', () => {
  const ranges = (...entries: string[]) =>
    domain({ serverIps: entries, ranges: entries.map((e) => (e.includes('/') ? ipaddr.parseCIDR(e) : [ipaddr.parse(e), ipaddr.parse(e).kind() === 'ipv4' ? 32 : 128])) });

  it('matches single addresses and CIDR ranges, IPv4 and IPv6; ::ffff:a.b.c.d is a.b.c.d', () => {
    const d = ranges('203.0.113.5', '10.0.0.0/8', '2001:db8::/32');
    expect(ipAllowed(d, parseCallerIp('203.0.113.5'))).toBe(true);
    expect(ipAllowed(d, parseCallerIp('::ffff:203.0.113.5'))).toBe(true);
    expect(ipAllowed(d, parseCallerIp('10.200.1.1'))).toBe(true);
    expect(ipAllowed(d, parseCallerIp('2001:db8:1::7'))).toBe(true);
    expect(ipAllowed(d, parseCallerIp('203.0.113.6'))).toBe(false);
    expect(ipAllowed(d, parseCallerIp('2001:db9::1'))).toBe(false);
    expect(ipAllowed(d, parseCallerIp(undefined))).toBe(false);
    expect(ipAllowed(domain(), parseCallerIp(undefined))).toBe(true);
  });
});
