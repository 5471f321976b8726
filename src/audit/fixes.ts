import { createHash } from 'node:crypto';
import { cachedClient } from '../access/cache.ts';
import { evaluateCall, hostOf, type PresentedCall } from '../access/evaluate.ts';
import type { DenialReason } from '../access/policy.ts';
import { domainFacts, parseCallerIp, type ClientSnapshot, type DomainFacts, type SecretFacts } from '../access/snapshot.ts';
import { PLAN_LIMITS } from '../accounts/plans.ts';
import type { ClientState } from '../clients/state.ts';
import type { ReplayState } from './fold.ts';
import { accessSnapshotOf } from './fold.ts';
import { secretText } from './causes.ts';
import { type ExplainLanguage, type ExplainMessageKey, say } from './i18n.ts';

/**
 * The smallest change that would allow the same request now: the request is decided against the
 * client as it is now; each refusal suggests one change, which is then assumed made and the
 * request decided again — until it would be allowed, or nothing more can be suggested.
 */

export const FIX_ACTIONS = [
  'none',
  'check_credentials',
  'check_client_id',
  'check_domain',
  'create_client',
  'activate_plan',
  'enable_client',
  'use_secret',
  'issue_secret',
  'rotate_secret',
  'add_domain',
  'activate_domain',
  'link_secret',
  'allow_api',
  'allow_login',
  'add_ip',
  'clear_ips',
  'grant_scope',
  'slow_down',
  'add_test_user',
] as const;
export type FixAction = (typeof FIX_ACTIONS)[number];

export interface FixStep {
  readonly action: FixAction;
  readonly summary: string;
  readonly secretId?: string;
  readonly hint?: string;
  readonly domainId?: string;
  readonly domain?: string;
  readonly ip?: string;
  readonly scope?: string;
  readonly plan?: string;
  /** the management call (relative to /manage/v1) that makes the change */
  readonly request?: { readonly method: string; readonly path: string; readonly body?: unknown };
}

export interface FixContext {
  readonly current: ReplayState;
  readonly clientId: string | null;
  /** the request as presented, decided at the current time */
  readonly call: PresentedCall | undefined;
  readonly reason: DenialReason;
  readonly language: ExplainLanguage;
}

/** A stand-in hash for a secret the fix would create (never equal to a real one). */
const HYPOTHETICAL = createHash('sha256').update('keyledger: a secret a fix would create').digest();

const usable = (s: SecretFacts, now: number) => s.status === 'active' && (s.expiresAt === null || now < s.expiresAt);

function withSecret(snapshot: ClientSnapshot, secret: SecretFacts): ClientSnapshot {
  return { ...snapshot, secrets: [...snapshot.secrets.filter((s) => s.secretId !== secret.secretId), secret] };
}
function withDomain(snapshot: ClientSnapshot, domain: DomainFacts): ClientSnapshot {
  return { ...snapshot, domains: [...snapshot.domains.filter((d) => d.domainId !== domain.domainId), domain] };
}

/** The secret that replaced a rotated one, following further rotations. */
function replacementOf(client: ClientState, secretId: string): string | undefined {
  let next = client.secrets.get(secretId)?.replacedBy ?? undefined;
  for (let hops = 0; next && hops < 1_000; hops++) {
    const replacedBy = client.secrets.get(next)?.replacedBy;
    if (!replacedBy) return next;
    next = replacedBy;
  }
  return next;
}

export function fixesFor(ctx: FixContext): FixStep[] {
  const { current, clientId, language } = ctx;
  const say_ = (key: ExplainMessageKey, values: Record<string, string | number> = {}) => say(language, key, values);
  if (ctx.reason === 'missing_credentials' || !ctx.call) return [{ action: 'check_credentials', summary: say_('fix.checkCredentials') }];

  const client = current.client;
  const base = `/clients/${clientId}`;
  let snapshot = accessSnapshotOf(current);
  if (ctx.reason === 'test_user_required' && ctx.call.secretSha256 === null) {
    // the hosted sign-in page (no secret there): only the domain's test mode matters
    const domain = snapshot && snapshot.status !== 'deleted' ? cachedClient(snapshot).findDomain(hostOf(ctx.call.domain)) : undefined;
    return [domain?.testMode ? addTestUser(domain) : { action: 'none', summary: say_('fix.none') }];
  }
  let call: PresentedCall = ctx.call;
  const steps: FixStep[] = [];
  const host = hostOf(call.domain).toLowerCase();

  for (let round = 0; round < 16; round++) {
    const cached = snapshot ? cachedClient(snapshot) : undefined;
    const { decision, domain, secret } = evaluateCall(cached, call);
    if (decision.allowed) {
      if (steps.length > 0) return steps;
      if (ctx.reason === 'rate_limited' && snapshot?.plan) {
        const plan = snapshot.plan;
        return [{ action: 'slow_down', plan, summary: say_('fix.slowDown', { limit: PLAN_LIMITS[plan].requestsPerMinute.toLocaleString('en-US'), plan }) }];
      }
      if (ctx.reason === 'test_user_required' && domain?.testMode) return [addTestUser(domain)];
      return [{ action: 'none', summary: say_('fix.none') }];
    }
    if (!snapshot || !client) {
      steps.push({ action: 'check_client_id', summary: say_('fix.checkClientId', { clientId: clientId ?? '' }) });
      return steps;
    }
    const now = call.now;
    switch (decision.reason) {
      case 'unknown_client':
        steps.push({ action: 'create_client', summary: say_('fix.createClient'), request: { method: 'POST', path: '/clients' } });
        return steps;
      case 'plan_inactive': {
        const plan = snapshot.plan;
        steps.push({
          action: 'activate_plan',
          ...(plan ? { plan } : {}),
          summary: plan ? say_('fix.activatePlan', { plan }) : say_('fix.activateAnyPlan'),
          request: { method: 'POST', path: '/account/plan', body: { plan: plan ?? 'starter' } },
        });
        snapshot = { ...snapshot, planActive: true, plan: plan ?? 'starter' };
        break;
      }
      case 'client_disabled':
        steps.push({ action: 'enable_client', summary: say_('fix.enableClient'), request: { method: 'POST', path: `${base}/enable` } });
        snapshot = { ...snapshot, status: 'active' };
        break;
      case 'invalid_secret':
      case 'secret_revoked':
      case 'secret_expired': {
        const presented = secret;
        // a secret expired by its own expiry (not a rotation) can be rotated: the new one keeps its links
        if (presented && decision.reason === 'secret_expired' && presented.status === 'active') {
          steps.push({
            action: 'rotate_secret',
            secretId: presented.secretId,
            hint: client.secrets.get(presented.secretId)?.hint ?? '',
            summary: say_('fix.rotateSecret', { secret: secretText(client, presented.secretId) }),
            request: { method: 'POST', path: `${base}/secrets/${presented.secretId}/rotate`, body: {} },
          });
          snapshot = withSecret(snapshot, { ...presented, secretId: `${presented.secretId}:rotated`, hash: HYPOTHETICAL, expiresAt: null });
          call = { ...call, secretSha256: HYPOTHETICAL };
          break;
        }
        const target = cached!.findDomain(host);
        const replacement = presented && presented.status === 'rotated' ? replacementOf(client, presented.secretId) : undefined;
        const candidates = snapshot.secrets.filter((s) => usable(s, now));
        const chosen =
          candidates.find((s) => s.secretId === replacement) ??
          candidates.find((s) => target && s.linkedDomainIds.has(target.domainId)) ??
          candidates[0];
        if (chosen) {
          const key: ExplainMessageKey = chosen.secretId === replacement ? 'fix.useReplacement' : presented ? 'fix.useSecret' : 'fix.presentedUnknown';
          steps.push({ action: 'use_secret', secretId: chosen.secretId, hint: client.secrets.get(chosen.secretId)?.hint ?? '', summary: say_(key, { secret: secretText(client, chosen.secretId) }) });
          call = { ...call, secretSha256: chosen.hash };
        } else {
          steps.push({ action: 'issue_secret', summary: say_(presented ? 'fix.issueSecret' : 'fix.presentedUnknownIssue'), request: { method: 'POST', path: `${base}/secrets`, body: {} } });
          // issued without `domains`, a secret is linked to every current domain
          snapshot = withSecret(snapshot, { secretId: 'sec_new', hash: HYPOTHETICAL, status: 'active', expiresAt: null, graceUntil: null, linkedDomainIds: new Set(snapshot.domains.map((d) => d.domainId)) });
          call = { ...call, secretSha256: HYPOTHETICAL };
        }
        break;
      }
      case 'unknown_domain': {
        if (!host.includes('.') && host !== 'localhost') {
          steps.push({ action: 'check_domain', domain: host, summary: say_('fix.checkDomain', { domain: host }) });
          return steps;
        }
        steps.push({ action: 'add_domain', domain: host, summary: say_('fix.addDomain', { domain: host }), request: { method: 'POST', path: `${base}/domains`, body: { domain: host } } });
        // added without `secrets`, a domain is linked to every active secret
        const added: DomainFacts = domainFacts({ domain_id: 'dom_new', domain: host, active: true, allow_api: true, allow_login: true, test_mode: false, server_ips: [] });
        snapshot = {
          ...withDomain(snapshot, added),
          secrets: snapshot.secrets.map((s) => (s.status === 'active' ? { ...s, linkedDomainIds: new Set([...s.linkedDomainIds, added.domainId]) } : s)),
        };
        break;
      }
      case 'domain_inactive':
        steps.push(domainStep('activate_domain', 'fix.activateDomain', domain!, { active: true }));
        snapshot = withDomain(snapshot, { ...domain!, active: true });
        break;
      case 'secret_not_linked':
        steps.push({
          action: 'link_secret',
          secretId: secret!.secretId,
          hint: client.secrets.get(secret!.secretId)?.hint ?? '',
          domainId: domain!.domainId,
          domain: domain!.domain,
          summary: say_('fix.linkSecret', { secret: secretText(client, secret!.secretId), domain: domain!.domain }),
          request: { method: 'PUT', path: `${base}/domains/${domain!.domainId}/secrets/${secret!.secretId}` },
        });
        snapshot = withSecret(snapshot, { ...secret!, linkedDomainIds: new Set([...secret!.linkedDomainIds, domain!.domainId]) });
        break;
      case 'api_not_allowed':
        steps.push(domainStep('allow_api', 'fix.allowApi', domain!, { allowApi: true }));
        snapshot = withDomain(snapshot, { ...domain!, allowApi: true });
        break;
      case 'login_not_allowed':
        steps.push(domainStep('allow_login', 'fix.allowLogin', domain!, { allowLogin: true }));
        snapshot = withDomain(snapshot, { ...domain!, allowLogin: true });
        break;
      case 'ip_not_allowed': {
        const address = parseCallerIp(call.ip ?? undefined);
        if (!address) {
          steps.push(domainStep('clear_ips', 'fix.clearIps', domain!, { serverIps: [] }));
          snapshot = withDomain(snapshot, { ...domain!, serverIps: [], ranges: [] });
          break;
        }
        const ip = address.toString();
        steps.push({ ...domainStep('add_ip', 'fix.addIp', domain!, { serverIps: [...domain!.serverIps, ip] }, { ip }), ip });
        snapshot = withDomain(snapshot, { ...domain!, serverIps: [...domain!.serverIps, ip], ranges: [...domain!.ranges, [address, address.kind() === 'ipv4' ? 32 : 128]] });
        break;
      }
      case 'scope_missing': {
        const scope = call.scope!;
        steps.push({ action: 'grant_scope', scope, summary: say_('fix.grantScope', { scope }), request: { method: 'PUT', path: `${base}/scopes`, body: { scopes: [...snapshot.scopes, scope] } } });
        snapshot = { ...snapshot, scopes: [...snapshot.scopes, scope] };
        break;
      }
      case 'missing_credentials':
      case 'rate_limited':
      case 'test_user_required':
        return steps;
      default: {
        const _exhaustive: never = decision.reason;
        return _exhaustive;
      }
    }
  }
  return steps;

  function addTestUser(domain: DomainFacts): FixStep {
    return { action: 'add_test_user', domainId: domain.domainId, domain: domain.domain, summary: say_('fix.addTestUser', { domain: domain.domain }), request: { method: 'POST', path: `${base}/test-users` } };
  }

  function domainStep(action: FixAction, key: ExplainMessageKey, domain: DomainFacts, body: Record<string, unknown>, values: Record<string, string> = {}): FixStep {
    return {
      action,
      domainId: domain.domainId,
      domain: domain.domain,
      summary: say_(key, { domain: domain.domain, ...values }),
      request: { method: 'PATCH', path: `${base}/domains/${domain.domainId}`, body },
    };
  }
}
