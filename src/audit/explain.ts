import { cachedClient } from '../access/cache.ts';
import { hostOf, type PresentedCall } from '../access/evaluate.ts';
import { DENIAL_REASONS, type DenialReason, type EndpointKind } from '../access/policy.ts';
import { ENDPOINTS } from '../api/routes.ts';
import { auditData } from '../../projections/audit-log.ts';
import { formatPosition, parsePosition } from '../eventstore/port.ts';
import { CHECKS, type CheckResult, credentialsWellFormed, replayDecision, walkChecks } from './checks.ts';
import { findCause } from './causes.ts';
import { fixesFor, type FixStep } from './fixes.ts';
import { accessSnapshotOf, type ReplayState } from './fold.ts';
import type { ClientSnapshot } from '../access/snapshot.ts';
import { type ClientHistory, countUpToPosition, countUpToTime } from './history.ts';
import { type ExplainLanguage, type ExplainMessageKey, readableTime, say } from './i18n.ts';

/** One logged denial, as the decision log keeps it. */
export interface DenialRecord {
  readonly requestId: string;
  readonly callerRequestId: string | null;
  /** the evaluation time */
  readonly at: Date;
  /** as sent */
  readonly clientId: string | null;
  readonly domain: string | null;
  readonly ip: string | null;
  readonly endpoint: string;
  readonly secretSha256: string | null;
  readonly reason: string;
  readonly status: number;
  /** the read-model position it was decided at */
  readonly position: string | null;
  readonly requirementKind: string | null;
  readonly requirementScope: string | null;
}

export interface ActorRecord {
  readonly sub: number;
  readonly email: string;
  readonly name: string;
}

export interface ExplainedActor {
  readonly sub: number | null;
  readonly email: string | null;
  readonly name: string | null;
  readonly kind: 'user' | 'cli' | 'system';
}

export interface PresentedSecret {
  readonly match: 'this_client' | 'not_this_client' | 'none';
  readonly secretId?: string;
  readonly label?: string;
  readonly hint?: string;
  /** its state at the time of the request */
  readonly state?: 'active' | 'rotated' | 'revoked' | 'expired';
  readonly expiresAt?: string;
  readonly graceUntil?: string;
  readonly replacedBy?: string;
}

/** The explanation: a plain, serialisable object (the dashboard and support show it as it is). */
export interface Explanation {
  readonly requestId: string;
  readonly callerRequestId: string | null;
  readonly at: string;
  readonly endpoint: string;
  readonly presented: { readonly clientId: string | null; readonly domain: string | null; readonly ip: string | null; readonly secret: PresentedSecret };
  readonly decision: { readonly allowed: false; readonly reason: string; readonly status: number; readonly position: string | null };
  readonly checks: readonly CheckResult[];
  readonly cause: {
    readonly event: { readonly type: string; readonly at: string; readonly position: string; readonly actor: ExplainedActor; readonly data: Record<string, unknown> };
    readonly summary: string;
  } | null;
  readonly fix: readonly FixStep[];
  readonly replay: { readonly reason: string; readonly agrees: boolean; readonly position: string | null; readonly basis?: string };
  readonly language: ExplainLanguage;
}

export interface ExplainInput {
  readonly denial: DenialRecord;
  /** the denial's client's stream merged with its organisation's (no events when it never existed) */
  readonly history: Pick<ClientHistory, 'events' | 'stateAfter'>;
  /** users named as actors in those events, by sub */
  readonly actors: ReadonlyMap<number, ActorRecord>;
  readonly language: ExplainLanguage;
  /** the fix is decided against the client as it is at this time */
  readonly now: Date;
}

/** The actor may open the sentence ("an operator …"). */
const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

const isReason = (value: string): value is DenialReason => (DENIAL_REASONS as readonly string[]).includes(value);

/** The endpoint's requirement: as logged, or (older rows) from the route table. */
function requirementOf(denial: DenialRecord): { kind: EndpointKind; scope: string | null } {
  if (denial.requirementKind === 'api' || denial.requirementKind === 'login') return { kind: denial.requirementKind, scope: denial.requirementScope };
  const route = ENDPOINTS.find((e) => `${e.method} ${e.path}` === denial.endpoint);
  const kind: EndpointKind = route?.auth === 'login' || denial.endpoint.startsWith('GET /signin') || denial.endpoint.startsWith('POST /signin') ? 'login' : 'api';
  return { kind, scope: route?.scope ?? null };
}

export function explainedActor(actor: string, actors: ReadonlyMap<number, ActorRecord>): ExplainedActor {
  if (/^\d+$/.test(actor)) {
    const user = actors.get(Number(actor));
    return { sub: Number(actor), email: user?.email ?? null, name: user?.name ?? null, kind: 'user' };
  }
  return { sub: null, email: null, name: null, kind: actor === 'cli' ? 'cli' : 'system' };
}

function actorText(actor: ExplainedActor, language: ExplainLanguage): string {
  switch (actor.kind) {
    case 'user':
      return actor.name !== null ? say(language, 'actor.user', { name: actor.name, email: actor.email ?? '' }) : say(language, 'actor.unknownUser', { sub: actor.sub ?? '?' });
    case 'cli':
      return say(language, 'actor.cli');
    case 'system':
      return say(language, 'actor.system');
    default: {
      const _exhaustive: never = actor.kind;
      return _exhaustive;
    }
  }
}

/** Which secret was presented: one of this client's (and its state then), or not — never whose it is. */
function presentedSecret(state: ReplayState, snapshot: ClientSnapshot | undefined, hash: string | null, atMs: number): PresentedSecret {
  if (!hash) return { match: 'none' };
  const secret = state.client ? [...state.client.secrets.values()].find((s) => s.secretHash === hash) : undefined;
  if (!secret) return { match: 'not_this_client' };
  const expired = secret.status === 'active' && secret.expiresAt !== null && Date.parse(secret.expiresAt) <= atMs;
  const graceUntil = snapshot?.secrets.find((s) => s.secretId === secret.secretId)?.graceUntil ?? null;
  return {
    match: 'this_client',
    secretId: secret.secretId,
    label: secret.label,
    hint: secret.hint,
    state: expired ? 'expired' : secret.status,
    ...(secret.expiresAt ? { expiresAt: new Date(secret.expiresAt).toISOString() } : {}),
    ...(secret.status === 'rotated' && graceUntil !== null ? { graceUntil: new Date(graceUntil).toISOString() } : {}),
    ...(secret.replacedBy ? { replacedBy: secret.replacedBy } : {}),
  };
}

/** A reason code the access policy does not know (written by a newer node, say): said plainly. */
function unexplainable(denial: DenialRecord, presented: Explanation['presented'], language: ExplainLanguage): Explanation {
  return {
    requestId: denial.requestId,
    callerRequestId: denial.callerRequestId,
    at: denial.at.toISOString(),
    endpoint: denial.endpoint,
    presented,
    decision: { allowed: false, reason: denial.reason, status: denial.status, position: denial.position },
    checks: [],
    cause: null,
    fix: [],
    replay: { reason: 'not_replayable', agrees: false, position: null, basis: `${denial.reason} is not a reason of the access policy (DESIGN §6)` },
    language,
  };
}

/**
 * Why a request was refused (DESIGN §11): the checks in pipeline order up to the failing one,
 * the event that made it fail and who made it, which secret was presented, the smallest change
 * that would allow the same request now, and the decision re-derived by folding the events up to
 * the logged position. Pure: everything it needs is in `input`.
 */
export function explainDecision(input: ExplainInput): Explanation {
  const { denial, history, actors, language } = input;
  const { events } = history;
  const atMs = denial.at.getTime();
  const secretSha256 = denial.secretSha256 && /^[0-9a-f]{64}$/.test(denial.secretSha256) ? Buffer.from(denial.secretSha256, 'hex') : null;

  // the replay: the events up to the logged position (or, when none was logged, up to its time)
  const position = denial.position ? parsePosition(denial.position) : undefined;
  const count = position ? countUpToPosition(events, position) : countUpToTime(events, atMs);
  const replayed = events.slice(0, count);
  const state = history.stateAfter(count);
  const snapshot = accessSnapshotOf(state);
  const presented = { clientId: denial.clientId, domain: denial.domain, ip: denial.ip, secret: presentedSecret(state, snapshot, secretSha256 ? denial.secretSha256 : null, atMs) };
  if (!isReason(denial.reason)) return unexplainable(denial, presented, language);
  const reason: DenialReason = denial.reason;
  const requirement = requirementOf(denial);
  const wellFormed = credentialsWellFormed(denial.clientId, denial.domain);
  const call: PresentedCall | undefined =
    wellFormed || (reason === 'test_user_required' && denial.domain !== null)
      ? { secretSha256, domain: denial.domain!, ip: denial.ip, kind: requirement.kind, scope: requirement.scope, now: atMs }
      : undefined;
  const cached = snapshot ? cachedClient(snapshot) : undefined;
  const replay = replayDecision(cached, reason === 'missing_credentials' ? undefined : call, reason, { clientId: denial.clientId, domain: denial.domain });
  const current = history.stateAfter(events.length);

  // the checks, in order, up to the failing one
  const walk = call && secretSha256 ? walkChecks(cached, call) : undefined;
  const domain = walk?.domain ?? (call && cached && cached.snapshot.status !== 'deleted' ? cached.findDomain(call.domain) : undefined);
  let checks: CheckResult[];
  if (reason === 'missing_credentials' || !call) checks = [{ check: 'credentials_well_formed', passed: false }];
  else if (reason === 'test_user_required' && !secretSha256) {
    // the hosted sign-in page: no secret is presented there
    const exists = cached !== undefined && cached.snapshot.status !== 'deleted';
    checks = [
      { check: 'client_exists', passed: exists },
      ...(exists ? [{ check: 'domain_known' as const, passed: domain !== undefined }] : []),
      ...(domain ? [{ check: 'test_user' as const, passed: false }] : []),
    ];
  } else if (!walk) {
    checks =
      reason === 'rate_limited'
        ? // refused before any lookup: the per-address throttle of failed authentications (access/throttle.ts)
          [{ check: 'rate_limit', passed: false }]
        : // no usable secret hash was logged: nothing past check 1 can be walked
          [{ check: 'credentials_well_formed', passed: false }];
  } else {
    checks = [{ check: 'credentials_well_formed', passed: true }, ...walk.checks];
    if (!walk.reason) {
      checks.push({ check: 'rate_limit', passed: reason !== 'rate_limited' });
      if (reason === 'test_user_required') checks.push({ check: 'test_user', passed: false });
    }
  }
  checks.sort((a, b) => CHECKS.indexOf(a.check) - CHECKS.indexOf(b.check));

  const found = findCause({ reason, events: replayed, state, secretId: walk?.secret?.secretId, domain, sentDomain: denial.domain, ip: denial.ip, scope: requirement.scope });
  const cause = found
    ? (() => {
        const actor = explainedActor(found.event.metadata.actor, actors);
        const key: ExplainMessageKey = found.key;
        return {
          event: {
            type: found.event.type,
            at: found.event.metadata.at,
            position: formatPosition(found.event.position),
            actor,
            data: auditData(found.event.data),
          },
          summary: sentence(say(language, key, { ...found.values, actor: actorText(actor, language), time: readableTime(found.event.metadata.at) })),
        };
      })()
    : null;

  const fix = fixesFor({
    current,
    clientId: denial.clientId,
    call: call && { ...call, now: input.now.getTime() },
    reason,
    language,
  });

  return {
    requestId: denial.requestId,
    callerRequestId: denial.callerRequestId,
    at: denial.at.toISOString(),
    endpoint: denial.endpoint,
    presented,
    decision: { allowed: false, reason, status: denial.status, position: denial.position },
    checks,
    cause,
    fix,
    replay: {
      reason: replay.reason,
      agrees: replay.agrees,
      position: state.position ? formatPosition(state.position) : null,
      ...(replay.basis ? { basis: replay.basis } : {}),
    },
    language,
  };
}
