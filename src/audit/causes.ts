import type { DenialReason } from '../access/policy.ts';
import { domainMatchKey, type DomainFacts } from '../access/snapshot.ts';
import { hostOf } from '../access/evaluate.ts';
import type { ClientState } from '../clients/state.ts';
import type { HistoryEvent, ReplayState } from './fold.ts';
import { type ExplainMessageKey, readableTime } from './i18n.ts';

/**
 * For each reason, the event that made the failing check false (DESIGN §11): the last event at or
 * before the decision's position that set the fact the check read. Null where no event explains
 * it (a client id that never existed, a scope never granted, a domain never added, …).
 */
export interface Cause {
  readonly event: HistoryEvent;
  readonly key: ExplainMessageKey;
  /** filled into the sentence, besides {actor} and {time} */
  readonly values: Record<string, string>;
}

export interface CauseContext {
  readonly reason: DenialReason;
  /** the events folded for the replay, oldest first */
  readonly events: readonly HistoryEvent[];
  readonly state: ReplayState;
  /** the client's secret that was presented, if it was one */
  readonly secretId: string | undefined;
  /** the domain the sent X-Client-Domain named at the time, if any */
  readonly domain: DomainFacts | undefined;
  readonly sentDomain: string | null;
  readonly ip: string | null;
  readonly scope: string | null;
}

type Of<T extends HistoryEvent['type']> = Extract<HistoryEvent, { type: T }>;

function last<T extends HistoryEvent['type']>(events: readonly HistoryEvent[], type: T, test: (e: Of<T>) => boolean = () => true): Of<T> | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type === type && test(e as Of<T>)) return e as Of<T>;
  }
  return undefined;
}

function lastOf(events: readonly HistoryEvent[], test: (e: HistoryEvent) => boolean): HistoryEvent | undefined {
  for (let i = events.length - 1; i >= 0; i--) if (test(events[i]!)) return events[i];
  return undefined;
}

export function secretText(client: ClientState | null, secretId: string): string {
  const secret = client?.secrets.get(secretId);
  return secret ? `“${secret.label}” (${secret.hint})` : secretId;
}

/** The event that created a secret: its issue, or the rotation that made it. */
function secretCreation(events: readonly HistoryEvent[], secretId: string): HistoryEvent | undefined {
  return lastOf(
    events,
    (e) => (e.type === 'ClientSecretIssued' && e.data.secretId === secretId) || (e.type === 'ClientSecretRotated' && e.data.newSecretId === secretId),
  );
}

/** The last event that set one of a domain's settings to `value` (its DomainAdded included). */
function settingCause(
  events: readonly HistoryEvent[],
  domainId: string,
  setting: 'active' | 'allowApi' | 'allowLogin' | 'testMode' | 'serverIps',
  matches: (value: unknown) => boolean,
): { event: HistoryEvent; added: boolean } | undefined {
  const event = lastOf(
    events,
    (e) =>
      (e.type === 'DomainUpdated' && e.data.domainId === domainId && e.data.changes[setting] !== undefined) ||
      (e.type === 'DomainAdded' && e.data.domainId === domainId),
  );
  if (!event) return undefined;
  const value = event.type === 'DomainUpdated' ? event.data.changes[setting] : event.type === 'DomainAdded' ? event.data[setting] : undefined;
  return matches(value) ? { event, added: event.type === 'DomainAdded' } : undefined;
}

/** The last removal or rename that left the sent domain naming no domain of the client. */
function domainGone(events: readonly HistoryEvent[], sent: string): Cause | undefined {
  const host = hostOf(sent).toLowerCase();
  const names = new Map<string, string>();
  const named = (name: string, domainId: string) => domainId === hostOf(sent) || name === host || domainMatchKey(name) === domainMatchKey(host);
  let cause: Cause | undefined;
  for (const e of events) {
    if (e.type === 'DomainAdded') names.set(e.data.domainId, e.data.domain);
    else if (e.type === 'DomainRemoved') {
      if (named(e.data.domain, e.data.domainId)) cause = { event: e, key: 'cause.domainRemoved', values: { domain: e.data.domain } };
      names.delete(e.data.domainId);
    } else if (e.type === 'DomainUpdated' && typeof e.data.changes.domain === 'string') {
      const before = names.get(e.data.domainId);
      if (before !== undefined && named(before, e.data.domainId) && !named(e.data.changes.domain, '')) {
        cause = { event: e, key: 'cause.domainRenamed', values: { domain: before, newDomain: e.data.changes.domain } };
      }
      names.set(e.data.domainId, e.data.changes.domain);
    }
  }
  return cause;
}

export function findCause(ctx: CauseContext): Cause | null {
  const { events, state, secretId } = ctx;
  const client = state.client;
  const domain = ctx.domain;
  switch (ctx.reason) {
    case 'unknown_client': {
      const event = last(events, 'ClientDeleted');
      return event ? { event, key: 'cause.ClientDeleted', values: {} } : null;
    }
    case 'plan_inactive': {
      const event = last(events, 'PlanCancelled');
      return event ? { event, key: 'cause.PlanCancelled', values: { plan: event.data.plan } } : null;
    }
    case 'client_disabled': {
      const event = last(events, 'ClientDisabled');
      return event ? { event, key: 'cause.ClientDisabled', values: {} } : null;
    }
    case 'secret_revoked': {
      const event = secretId ? last(events, 'ClientSecretRevoked', (e) => e.data.secretId === secretId) : undefined;
      return event ? { event, key: 'cause.revoked', values: { secret: secretText(client, event.data.secretId) } } : null;
    }
    case 'secret_expired': {
      if (!secretId) return null;
      const secret = client?.secrets.get(secretId);
      const rotation = last(events, 'ClientSecretRotated', (e) => e.data.secretId === secretId);
      if (rotation && secret?.status === 'rotated') {
        const graced = rotation.data.graceUntil !== null;
        return {
          event: rotation,
          key: graced ? 'cause.rotatedGrace' : 'cause.rotatedNoGrace',
          values: { secret: secretText(client, secretId), graceEnd: graced ? readableTime(rotation.data.graceUntil!) : '' },
        };
      }
      const issued = last(events, 'ClientSecretIssued', (e) => e.data.secretId === secretId);
      if (!issued || !issued.data.expiresAt) return null;
      return { event: issued, key: 'cause.expired', values: { secret: secretText(client, secretId), expiresAt: readableTime(new Date(issued.data.expiresAt).toISOString()) } };
    }
    case 'secret_not_linked': {
      if (!secretId || !domain) return null;
      const values = { secret: secretText(client, secretId), domain: domain.domain };
      const unlinked = last(events, 'SecretUnlinkedFromDomain', (e) => e.data.secretId === secretId && e.data.domainId === domain.domainId);
      if (unlinked) return { event: unlinked, key: 'cause.unlinked', values };
      // never linked: whichever came later, the secret or the domain, arrived without the link
      const created = secretCreation(events, secretId);
      const added = last(events, 'DomainAdded', (e) => e.data.domainId === domain.domainId);
      if (added && (!created || events.indexOf(added) > events.indexOf(created))) return { event: added, key: 'cause.domainAddedUnlinked', values };
      return created ? { event: created, key: 'cause.issuedUnlinked', values } : null;
    }
    case 'unknown_domain':
      return ctx.sentDomain ? (domainGone(events, ctx.sentDomain) ?? null) : null;
    case 'domain_inactive': {
      const found = domain && settingCause(events, domain.domainId, 'active', (v) => v === false);
      return found ? { event: found.event, key: found.added ? 'cause.domainAddedInactive' : 'cause.domainInactive', values: { domain: domain.domain } } : null;
    }
    case 'api_not_allowed': {
      const found = domain && settingCause(events, domain.domainId, 'allowApi', (v) => v === false);
      return found ? { event: found.event, key: found.added ? 'cause.apiOffAdded' : 'cause.apiOff', values: { domain: domain.domain } } : null;
    }
    case 'login_not_allowed': {
      const found = domain && settingCause(events, domain.domainId, 'allowLogin', (v) => v === false);
      return found ? { event: found.event, key: found.added ? 'cause.loginOffAdded' : 'cause.loginOff', values: { domain: domain.domain } } : null;
    }
    case 'ip_not_allowed': {
      const found = domain && settingCause(events, domain.domainId, 'serverIps', (v) => Array.isArray(v) && v.length > 0);
      return found
        ? { event: found.event, key: 'cause.serverIps', values: { domain: domain.domain, ips: domain.serverIps.join(', '), ip: ctx.ip ?? '?' } }
        : null;
    }
    case 'scope_missing': {
      const scope = ctx.scope;
      const event = scope ? last(events, 'ClientScopesChanged', (e) => e.data.previous.includes(scope as never) && !e.data.scopes.includes(scope as never)) : undefined;
      return event && scope ? { event, key: 'cause.scopeRemoved', values: { scope, scopes: event.data.scopes.join(', ') } } : null;
    }
    case 'test_user_required': {
      const found = domain && settingCause(events, domain.domainId, 'testMode', (v) => v === true);
      return found ? { event: found.event, key: found.added ? 'cause.testModeAdded' : 'cause.testMode', values: { domain: domain.domain } } : null;
    }
    case 'missing_credentials':
    case 'invalid_secret':
    case 'rate_limited':
      return null;
    default: {
      const _exhaustive: never = ctx.reason;
      return _exhaustive;
    }
  }
}
