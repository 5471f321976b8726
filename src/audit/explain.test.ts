import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../eventstore/port.ts';
import { type DenialRecord, explainDecision } from './explain.ts';
import type { HistoryEvent } from './fold.ts';
import { historyOf } from './history.ts';

/** explainDecision is pure: given a denial and the events, the explanation. Cases HTTP cannot reach cheaply. */

const SECRET_HASH = createHash('sha256').update('klsk_the-secret').digest('hex');
let commit = 0;
const at = (second: number) => new Date(Date.UTC(2026, 2, 1, 10, 0, second)).toISOString();
function recorded(stream: string, type: string, data: unknown, second: number, actor = '7'): HistoryEvent {
  commit += 1;
  const e: RecordedEvent = {
    id: `e${commit}`,
    stream,
    revision: BigInt(commit),
    position: { commit: BigInt(commit), prepare: 0n },
    type,
    data,
    metadata: { actor, correlationId: 'c', causationId: 'c', requestId: 'r', ip: null, userAgent: null, at: at(second) },
  };
  return e as unknown as HistoryEvent;
}

const org = 'organisation-org_1';
const client = 'client-kc_1';
const events = [
  recorded(org, 'OrganisationCreated', { organisationId: 'org_1', name: 'Org' }, 0),
  recorded(org, 'PlanActivated', { plan: 'starter', previousPlan: null }, 1),
  recorded(client, 'ClientRegistered', { clientId: 'kc_1', organisationId: 'org_1', name: 'Shop' }, 2),
  recorded(client, 'ClientSecretIssued', { secretId: 'sec_1', label: 'Standard Key', hint: 'klsk_…cret', secretHash: SECRET_HASH, expiresAt: null }, 2),
  recorded(
    client,
    'DomainAdded',
    { domainId: 'dom_1', domain: 'shop.example', serverIps: [], internalName: null, logo: null, fallbackUri: null, allowLogin: true, allowApi: true, active: true, primary: true, testMode: true },
    3,
    'cli',
  ),
  recorded(client, 'SecretLinkedToDomain', { secretId: 'sec_1', domainId: 'dom_1' }, 3),
];
const history = historyOf('kc_1', 'org_1', events);

const denial = (over: Partial<DenialRecord>): DenialRecord => ({
  requestId: 'den_0123456789abcdef0123456789abcdef',
  callerRequestId: null,
  at: new Date(at(10)),
  clientId: 'kc_1',
  domain: 'shop.example',
  ip: '203.0.113.7',
  endpoint: 'GET /api/whoami',
  secretSha256: SECRET_HASH,
  reason: 'invalid_secret',
  status: 401,
  position: '6/0',
  requirementKind: 'api',
  requirementScope: null,
  ...over,
});
const explain = (over: Partial<DenialRecord>, language: 'en' | 'nl' = 'en') =>
  explainDecision({ denial: denial(over), history, actors: new Map([[7, { sub: 7, email: 'ada@example.com', name: 'Ada' }]]), language, now: new Date(at(20)) });

describe('explainDecision', () => {
  it('when the hosted sign-in page refused a non-tester (no secret, no position), then test mode is the cause and its author an operator', () => {
    const e = explain({ reason: 'test_user_required', status: 403, secretSha256: null, position: null, endpoint: 'POST /signin/approve', requirementKind: null, ip: null });
    expect(e.checks).toEqual([
      { check: 'client_exists', passed: true },
      { check: 'domain_known', passed: true },
      { check: 'test_user', passed: false },
    ]);
    expect(e.presented.secret).toEqual({ match: 'none' });
    expect(e.cause?.event).toMatchObject({ type: 'DomainAdded', actor: { sub: null, email: null, name: null, kind: 'cli' } });
    expect(e.cause?.summary).toMatch(/^An operator on the command line added shop\.example in test mode on 2026-03-01 10:00:03 UTC/);
    expect(e.fix).toEqual([expect.objectContaining({ action: 'add_test_user', domainId: 'dom_1' })]);
    expect(e.replay).toMatchObject({ reason: 'test_user_required', agrees: true });
  });

  it('when the rate limit refused it, then checks 2–12 passed, the replay says what it cannot re-derive, and the fix names the limit', () => {
    const e = explain({ reason: 'rate_limited', status: 429 });
    expect(e.checks.at(-1)).toEqual({ check: 'rate_limit', passed: false });
    expect(e.checks.slice(0, -1).every((c) => c.passed)).toBe(true);
    expect(e.replay).toMatchObject({ reason: 'rate_limited', agrees: true, basis: expect.stringContaining('counter') });
    expect(e.fix).toEqual([expect.objectContaining({ action: 'slow_down', plan: 'starter', summary: expect.stringContaining('600 requests a minute') })]);
    expect(explain({ reason: 'rate_limited', status: 429 }, 'nl').fix[0]!.summary).toContain('600 verzoeken per minuut');
  });

  it('when credentials were malformed, then only check 1, no cause, and the fix says what to send', () => {
    const e = explain({ reason: 'missing_credentials', clientId: 'not a client id', position: null });
    expect(e.checks).toEqual([{ check: 'credentials_well_formed', passed: false }]);
    expect(e.cause).toBeNull();
    expect(e.fix.map((f) => f.action)).toEqual(['check_credentials']);
    expect(e.replay).toMatchObject({ reason: 'missing_credentials', agrees: true });
  });

  it('when a scope was never granted, then there is no cause and the fix grants it', () => {
    const e = explain({ reason: 'scope_missing', status: 403, endpoint: 'POST /api/get/user/address', requirementScope: 'useraddresses' });
    expect(e.checks.at(-1)).toEqual({ check: 'scope_granted', passed: false });
    expect(e.cause).toBeNull();
    expect(e.fix).toEqual([expect.objectContaining({ action: 'grant_scope', scope: 'useraddresses', request: { method: 'PUT', path: '/clients/kc_1/scopes', body: { scopes: ['useraddresses'] } } })]);
    expect(e.replay).toMatchObject({ reason: 'scope_missing', agrees: true });
  });

  it('when the logged reason does not match what the events say, then the replay disagrees (and says what it found)', () => {
    const e = explain({ reason: 'client_disabled', status: 403 });
    expect(e.replay).toMatchObject({ reason: 'allowed', agrees: false });
  });

  it('when a row carries a reason the policy does not know, then it is not replayed, and says so', () => {
    const e = explain({ reason: 'throttled_ip', status: 429 });
    expect(e).toMatchObject({ checks: [], cause: null, fix: [], replay: { reason: 'not_replayable', agrees: false } });
  });

  it('when an older row has no requirement, then it comes from the endpoint', () => {
    const e = explain({ reason: 'scope_missing', status: 403, endpoint: 'POST /api/get/user/address', requirementKind: null, requirementScope: null });
    expect(e.replay).toMatchObject({ reason: 'scope_missing', agrees: true });
  });
});
