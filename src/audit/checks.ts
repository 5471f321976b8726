import type { CachedClient } from '../access/cache.ts';
import { evaluateCall, hostOf, matchSecret, type PresentedCall } from '../access/evaluate.ts';
import type { DenialReason } from '../access/policy.ts';
import { ipAllowed, parseCallerIp, type DomainFacts, type SecretFacts } from '../access/snapshot.ts';

/**
 * The checks of DESIGN §6 in pipeline order, one by one, for an explanation. The decision itself
 * is always re-derived by the live code (`evaluateCall`, CASL); this walk names which check
 * failed, and the agreement test holds the two to the same answer.
 */
export const CHECKS = [
  'credentials_well_formed',
  'client_exists',
  'plan_active',
  'client_enabled',
  'secret_matches',
  'secret_active',
  'domain_known',
  'domain_active',
  'secret_linked',
  'endpoint_allowed',
  'ip_allowed',
  'scope_granted',
  'rate_limit',
  'test_user',
] as const;
export type CheckName = (typeof CHECKS)[number];

export interface CheckResult {
  readonly check: CheckName;
  readonly passed: boolean;
}

/** The check each reason code fails. */
export const CHECK_OF: Record<DenialReason, CheckName> = {
  missing_credentials: 'credentials_well_formed',
  unknown_client: 'client_exists',
  plan_inactive: 'plan_active',
  client_disabled: 'client_enabled',
  invalid_secret: 'secret_matches',
  secret_revoked: 'secret_active',
  secret_expired: 'secret_active',
  unknown_domain: 'domain_known',
  domain_inactive: 'domain_active',
  secret_not_linked: 'secret_linked',
  api_not_allowed: 'endpoint_allowed',
  login_not_allowed: 'endpoint_allowed',
  ip_not_allowed: 'ip_allowed',
  scope_missing: 'scope_granted',
  rate_limited: 'rate_limit',
  test_user_required: 'test_user',
};

export interface WalkResult {
  readonly checks: CheckResult[];
  /** the reason of the first failing check of 2–12; undefined when they all pass */
  readonly reason: DenialReason | undefined;
  readonly domain: DomainFacts | undefined;
  readonly secret: SecretFacts | undefined;
}

/** Checks 2–12, in order, stopping at the first that fails. */
export function walkChecks(client: CachedClient | undefined, call: PresentedCall): WalkResult {
  const checks: CheckResult[] = [];
  const fail = (check: CheckName, reason: DenialReason, domain?: DomainFacts, secret?: SecretFacts): WalkResult => {
    checks.push({ check, passed: false });
    return { checks, reason, domain, secret };
  };
  const pass = (check: CheckName) => checks.push({ check, passed: true });

  const snapshot = client?.snapshot;
  if (!client || !snapshot || snapshot.status === 'deleted') return fail('client_exists', 'unknown_client');
  pass('client_exists');
  if (!snapshot.planActive) return fail('plan_active', 'plan_inactive');
  pass('plan_active');
  if (snapshot.status === 'disabled') return fail('client_enabled', 'client_disabled');
  pass('client_enabled');
  const secret = matchSecret(snapshot.secrets, call.secretSha256);
  if (!secret) return fail('secret_matches', 'invalid_secret');
  pass('secret_matches');
  if (secret.status === 'revoked') return fail('secret_active', 'secret_revoked', undefined, secret);
  if (secret.status === 'rotated' && call.now >= (secret.graceUntil ?? 0)) return fail('secret_active', 'secret_expired', undefined, secret);
  if (secret.expiresAt !== null && call.now >= secret.expiresAt) return fail('secret_active', 'secret_expired', undefined, secret);
  pass('secret_active');
  const domain = client.findDomain(call.domain);
  if (!domain) return fail('domain_known', 'unknown_domain', undefined, secret);
  pass('domain_known');
  if (!domain.active) return fail('domain_active', 'domain_inactive', domain, secret);
  pass('domain_active');
  if (!secret.linkedDomainIds.has(domain.domainId)) return fail('secret_linked', 'secret_not_linked', domain, secret);
  pass('secret_linked');
  if (call.kind === 'api' && !domain.allowApi) return fail('endpoint_allowed', 'api_not_allowed', domain, secret);
  if (call.kind === 'login' && !domain.allowLogin) return fail('endpoint_allowed', 'login_not_allowed', domain, secret);
  pass('endpoint_allowed');
  if (!ipAllowed(domain, parseCallerIp(call.ip ?? undefined))) return fail('ip_allowed', 'ip_not_allowed', domain, secret);
  pass('ip_allowed');
  if (call.scope !== null && !snapshot.scopes.includes(call.scope)) return fail('scope_granted', 'scope_missing', domain, secret);
  pass('scope_granted');
  return { checks, reason: undefined, domain, secret };
}

const CLIENT_ID = /^kc_[A-Za-z0-9]{1,40}$/;
const DOMAIN = /^[A-Za-z0-9._-]{1,253}(:\d{1,5})?$/;

/** What the log kept of check 1: the client id and domain as sent (the secret only as a hash). */
export function credentialsWellFormed(clientId: string | null, domain: string | null): boolean {
  return clientId !== null && CLIENT_ID.test(clientId) && domain !== null && DOMAIN.test(domain);
}

export interface Replay {
  readonly reason: DenialReason | 'allowed';
  readonly agrees: boolean;
  /** what could not be re-derived from events, when something could not */
  readonly basis?: string;
}

/**
 * The decision re-derived from a folded snapshot with the live code. Checks 1, 13 and the
 * test-user rule rest on what events do not hold (the raw secret, the rate counters, the user a
 * call was about): for those the replay re-derives what it can and says so in `basis`.
 */
export function replayDecision(
  client: CachedClient | undefined,
  call: PresentedCall | undefined,
  logged: DenialReason,
  sent: { clientId: string | null; domain: string | null },
): Replay {
  if (logged === 'missing_credentials' || !call) {
    const reason = 'missing_credentials';
    const basis = credentialsWellFormed(sent.clientId, sent.domain)
      ? 'the client id and domain were well-formed; the secret was missing or malformed (only its hash is kept)'
      : 'the client id or domain as sent is not well-formed';
    return { reason, agrees: logged === reason, basis };
  }
  if (logged === 'test_user_required' && call.secretSha256 === null) {
    // the hosted sign-in page refuses a non-tester without a secret: only the domain's test mode replays
    const domain = client?.snapshot.status === 'deleted' ? undefined : client?.findDomain(call.domain);
    const reason = domain?.testMode ? 'test_user_required' : 'allowed';
    return { reason, agrees: reason === logged, basis: 'sign-in page: the domain was in test mode; the user is not logged' };
  }
  const { decision, domain } = evaluateCall(client, call);
  if (!decision.allowed) return { reason: decision.reason, agrees: decision.reason === logged };
  if (logged === 'rate_limited') {
    return { reason: 'rate_limited', agrees: true, basis: 'checks 2–12 allowed it; the rate limit is a counter, not an event' };
  }
  if (logged === 'test_user_required') {
    const reason = domain?.testMode ? 'test_user_required' : 'allowed';
    return { reason, agrees: reason === logged, basis: 'checks 2–12 allowed it on a test-mode domain; the user it asked about is not logged' };
  }
  return { reason: 'allowed', agrees: false };
}
