import { AbilityBuilder, createMongoAbility, subject, type MongoAbility } from '@casl/ability';
import type { ClientSnapshot, DomainFacts } from './snapshot.ts';

/** Reason codes of DESIGN §6, in the order the checks apply. */
export const DENIAL_REASONS = [
  'missing_credentials',
  'unknown_client',
  'plan_inactive',
  'client_disabled',
  'invalid_secret',
  'secret_revoked',
  'secret_expired',
  'unknown_domain',
  'domain_inactive',
  'secret_not_linked',
  'api_not_allowed',
  'login_not_allowed',
  'ip_not_allowed',
  'scope_missing',
  'rate_limited',
  'test_user_required',
] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

export const DENIAL_STATUS: Record<DenialReason, number> = {
  missing_credentials: 401,
  unknown_client: 401,
  plan_inactive: 403,
  client_disabled: 403,
  invalid_secret: 401,
  secret_revoked: 401,
  secret_expired: 401,
  unknown_domain: 403,
  domain_inactive: 403,
  secret_not_linked: 403,
  api_not_allowed: 403,
  login_not_allowed: 403,
  ip_not_allowed: 403,
  scope_missing: 403,
  rate_limited: 429,
  test_user_required: 403,
};

export type EndpointKind = 'api' | 'login';

/** The facts of one request, as the policy sees them. */
export interface CallFacts {
  /** the client secret that matched, or null */
  readonly secretId: string | null;
  readonly kind: EndpointKind;
  readonly ipAllowed: boolean;
  readonly scope: string | null;
  /** ms since epoch: expiry and grace are decided to the request's second */
  readonly now: number;
}

type Abilities = MongoAbility<['call', 'Call' | ReturnType<typeof subject<'Call', CallFacts & object>>]>;

/**
 * The policy of one (client, domain) as a CASL ability. Every deny rule names its reason with
 * `.because(code)`. CASL lets later rules win, so the rules are declared from the last check
 * of DESIGN §6 to the first: when several denials apply, the earliest check decides.
 */
export function buildPolicy(client: ClientSnapshot, domain: DomainFacts | undefined): Abilities {
  const { can, cannot, build } = new AbilityBuilder<Abilities>(createMongoAbility);
  can('call', 'Call');

  if (domain) {
    cannot('call', 'Call', { scope: { $nin: [null, ...client.scopes] } }).because('scope_missing');
    cannot('call', 'Call', { ipAllowed: false }).because('ip_not_allowed');
    if (!domain.allowLogin) cannot('call', 'Call', { kind: 'login' }).because('login_not_allowed');
    if (!domain.allowApi) cannot('call', 'Call', { kind: 'api' }).because('api_not_allowed');
    const linked = client.secrets.filter((s) => s.linkedDomainIds.has(domain.domainId)).map((s) => s.secretId);
    cannot('call', 'Call', { secretId: { $nin: linked } }).because('secret_not_linked');
    if (!domain.active) cannot('call', 'Call').because('domain_inactive');
  } else {
    cannot('call', 'Call').because('unknown_domain');
  }

  for (const secret of client.secrets) {
    if (secret.status === 'rotated') {
      cannot('call', 'Call', { secretId: secret.secretId, now: { $gte: secret.graceUntil ?? 0 } }).because('secret_expired');
    }
    if (secret.expiresAt !== null) {
      cannot('call', 'Call', { secretId: secret.secretId, now: { $gte: secret.expiresAt } }).because('secret_expired');
    }
  }
  const revoked = client.secrets.filter((s) => s.status === 'revoked').map((s) => s.secretId);
  if (revoked.length > 0) cannot('call', 'Call', { secretId: { $in: revoked } }).because('secret_revoked');
  cannot('call', 'Call', { secretId: null }).because('invalid_secret');
  if (client.status === 'disabled') cannot('call', 'Call').because('client_disabled');
  if (!client.planActive) cannot('call', 'Call').because('plan_inactive');
  return build();
}

export type PolicyDecision = { allowed: true } | { allowed: false; reason: DenialReason };

export function decideCall(policy: Abilities, facts: CallFacts): PolicyDecision {
  const rule = policy.relevantRuleFor('call', subject('Call', { ...facts }));
  if (rule && !rule.inverted) return { allowed: true };
  return { allowed: false, reason: (rule?.reason as DenialReason | undefined) ?? 'invalid_secret' };
}
