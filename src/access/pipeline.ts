import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler } from 'express';
import { hasValidSecretFormat } from '../clients/secret-format.ts';
import { callerRequestIdOf } from '../http/request.ts';
import { XwmsError } from '../api/envelope.ts';
import { PLAN_LIMITS } from '../accounts/plans.ts';
import type { CachedClient, PolicyCache } from './cache.ts';
import type { PlanLimiter } from './plan-limiter.ts';
import type { ClientSnapshot, DomainFacts, SecretFacts } from './snapshot.ts';
import type { AccessOutcome } from '../metrics/metrics.ts';
import { type DecisionLog, newDenialId } from './decision-log.ts';
import { DENIAL_REASONS, DENIAL_STATUS, type DenialReason, type EndpointKind } from './policy.ts';
import { evaluateCall, hostOf } from './evaluate.ts';
import { callerNetwork, FailedAuthThrottle, retryAfterSeconds, type FailedAuthThrottleOptions } from './throttle.ts';

/** What an endpoint declares it needs. */
export interface AccessRequirement {
  readonly kind: EndpointKind;
  readonly scope?: string;
}

/** Who is calling, once the pipeline allowed the request. */
export interface AccessGrant {
  readonly clientId: string;
  readonly organisationId: string;
  readonly clientName?: string;
  readonly domainId: string;
  readonly domain: string;
  readonly testMode: boolean;
  readonly scopes: readonly string[];
  readonly secretId: string;
  readonly testUsers: ReadonlySet<number>;
  readonly position: string;
}

const CLIENT_ID = /^kc_[A-Za-z0-9]{1,40}$/;
const DOMAIN = /^[A-Za-z0-9._-]{1,253}(:\d{1,5})?$/;

const MESSAGES: Record<DenialReason, string> = {
  missing_credentials: 'X-Client-Id, X-Client-Secret and X-Client-Domain are required and must be well-formed.',
  unknown_client: 'Unknown client.',
  plan_inactive: "The client's organisation has no active plan.",
  client_disabled: 'This client is disabled.',
  invalid_secret: 'The client secret is not valid for this client.',
  secret_revoked: 'This client secret was revoked.',
  secret_expired: 'This client secret has expired (or its rotation grace period ended).',
  unknown_domain: 'X-Client-Domain does not name a domain of this client.',
  domain_inactive: 'This domain is not active.',
  secret_not_linked: 'This secret is not linked to this domain.',
  api_not_allowed: 'API calls are not allowed on this domain.',
  login_not_allowed: 'Sign-in is not allowed on this domain.',
  ip_not_allowed: "The caller's IP address is not in this domain's server IP allowlist.",
  scope_missing: 'The client was not granted the scope this endpoint needs.',
  rate_limited: "Too many requests for this client's plan; slow down.",
  test_user_required: 'On a test-mode domain only the client’s test users can sign in.',
};

/** The pre-authentication throttle reuses `rate_limited` (DESIGN §6's only 429) with its own message. */
const THROTTLED_MESSAGE = 'Too many failed authentications from this address; slow down.';

/** Reasons decided before the client was found: their client id as sent is not a known client. */
const BEFORE_LOOKUP = new Set<DenialReason>(['missing_credentials', 'unknown_client']);

export const accessOf = (req: Request): AccessGrant => {
  const grant = (req as Request & { access?: AccessGrant }).access;
  if (!grant) throw new Error('accessOf: the route did not declare an access requirement');
  return grant;
};

/** One header, exactly once, printable ASCII: anything else is not well-formed. */
function header(req: Request, name: string, maxLength: number): string | undefined {
  const value = req.headers[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) return undefined;
  return /^[\x21-\x7e]+$/.test(value) && !value.includes(',') ? value : undefined;
}

type WithRequirement = Request & { accessRequirement?: AccessRequirement };

/** One request on its way through the pipeline. */
interface Call {
  readonly req: Request;
  readonly next: NextFunction;
  readonly requirement: AccessRequirement;
  readonly scope: string | null;
  readonly at: Date;
  readonly secretHash: Buffer | null;
  readonly ip: string | undefined;
  readonly network: string;
  /** X-Client-Domain once it passed the well-formedness check */
  sentDomain: string;
}

export interface AccessPipelineOptions {
  readonly cache: PolicyCache;
  readonly log: DecisionLog;
  readonly now: () => Date;
  /** check 13: the plan's requests per minute, across the nodes */
  readonly limiter: PlanLimiter;
  /** failed authentications per caller network before it is refused (default 100 a minute) */
  readonly failedAuth?: FailedAuthThrottleOptions;
}

/**
 * The access pipeline (DESIGN §6) as express middleware: every header-authenticated route
 * declares what it needs (`pipeline.require({kind, scope})`) and is allowed or refused for a
 * named reason. It reads only the policy cache (read models), never the event store.
 */
export function createAccessPipeline(options: AccessPipelineOptions) {
  const { cache, log, now } = options;
  const { limiter } = options;
  const throttle = new FailedAuthThrottle(options.failedAuth ?? { failures: 100, windowSeconds: 60 });
  /** decisions by outcome since start, read by the metrics at scrape time */
  const decisions = Object.fromEntries(['allowed', ...DENIAL_REASONS].map((r) => [r, 0])) as Record<AccessOutcome, number>;

  /**
   * Logs a denial under an id of its own, generated here: it is what the caller sees as
   * `request_id` and `X-Request-Id`, so a caller's own X-Request-Id (kept beside it) can neither
   * collide with nor hide another denial. `at` is the evaluation time the policy used.
   */
  function deny(
    req: Request,
    reason: DenialReason,
    context: {
      clientId: string | null;
      domain: string | null;
      secretSha256: string | null;
      position: string | null;
      at: Date;
      /** whether clientId names an existing client; by default, whether the reason is decided after the lookup */
      clientKnown?: boolean;
      requirement?: AccessRequirement | undefined;
    },
    headers?: Record<string, string>,
    message: string = MESSAGES[reason],
  ): XwmsError {
    const denialId = newDenialId();
    const requirement = context.requirement ?? (req as WithRequirement).accessRequirement;
    if (req.res && !req.res.headersSent) req.res.setHeader('X-Request-Id', denialId);
    log.deny({
      requestId: denialId,
      callerRequestId: callerRequestIdOf(req),
      requirementKind: requirement?.kind ?? null,
      requirementScope: requirement?.scope ?? null,
      at: context.at,
      clientId: context.clientId,
      domain: context.domain,
      ip: req.ip ?? null,
      endpoint: `${req.method} ${req.baseUrl}${req.path}`.slice(0, 300),
      secretSha256: context.secretSha256,
      reason,
      status: DENIAL_STATUS[reason],
      position: context.position,
      clientKnown: context.clientKnown ?? !BEFORE_LOOKUP.has(reason),
    });
    return new XwmsError(DENIAL_STATUS[reason], reason, message, undefined, headers);
  }

  /** The grant of a (secret, domain) of one cached snapshot: built once, not per request. */
  const grants = new WeakMap<SecretFacts, WeakMap<DomainFacts, AccessGrant>>();
  function grantOf(snapshot: ClientSnapshot, domain: DomainFacts, secret: SecretFacts): AccessGrant {
    let byDomain = grants.get(secret);
    if (!byDomain) grants.set(secret, (byDomain = new WeakMap()));
    let grant = byDomain.get(domain);
    if (!grant) {
      grant = Object.freeze({
        clientId: snapshot.clientId,
        organisationId: snapshot.organisationId,
        domainId: domain.domainId,
        domain: domain.domain,
        testMode: domain.testMode,
        scopes: snapshot.scopes,
        secretId: secret.secretId,
        testUsers: snapshot.testUsers,
        position: snapshot.position,
      });
      byDomain.set(domain, grant);
    }
    return grant;
  }

  /** What a denial records of the call as sent (built only when one is logged). */
  function sent(call: Call, position: string | null) {
    const { req } = call;
    return {
      clientId: typeof req.headers['x-client-id'] === 'string' ? req.headers['x-client-id'].slice(0, 100) : null,
      domain: typeof req.headers['x-client-domain'] === 'string' ? req.headers['x-client-domain'].slice(0, 260) : null,
      secretSha256: call.secretHash ? call.secretHash.toString('hex') : null,
      position,
      at: call.at,
    };
  }

  function refuse(call: Call, reason: DenialReason, position: string | null = null): XwmsError {
    decisions[reason] += 1;
    return deny(call.req, reason, sent(call, position));
  }

  function throttled(call: Call, ms: number): XwmsError {
    decisions.rate_limited += 1;
    return deny(call.req, 'rate_limited', { ...sent(call, null), clientKnown: false }, { 'Retry-After': retryAfterSeconds(ms) }, THROTTLED_MESSAGE);
  }

  // The hot path allocates one small object per request (the call) and no closures: each
  // closure costs its allocation and, under tsx, a `name` property definition.
  function require(requirement: AccessRequirement): RequestHandler {
    const scope = requirement.scope ?? null;
    return (req, _res, next) => {
      const at = now();
      (req as WithRequirement).accessRequirement = requirement;
      const rawSecret = req.headers['x-client-secret'];
      const secretHash = typeof rawSecret === 'string' && rawSecret.length > 0 ? createHash('sha256').update(rawSecret.slice(0, 8_192)).digest() : null;
      const ip = req.ip;
      // 0. a caller network with too many failed authentications waits, before anything is looked up
      const network = callerNetwork(ip);
      const call: Call = { req, next, requirement, scope, at, secretHash, ip, network, sentDomain: '' };
      const wait = throttle.refusedFor(network);
      if (wait > 0) throw throttled(call, wait);

      // 1. present and well-formed (a secret with a bad checksum is refused here, before any lookup)
      const sentId = header(req, 'x-client-id', 64);
      const sentDomain = header(req, 'x-client-domain', 260);
      const sentSecret = header(req, 'x-client-secret', 128);
      if (!sentId || !CLIENT_ID.test(sentId) || !sentDomain || !DOMAIN.test(sentDomain) || !hasValidSecretFormat(sentSecret)) {
        throttle.fail(network);
        throw refuse(call, 'missing_credentials');
      }
      call.sentDomain = sentDomain;
      // 2. the client exists and is not deleted (a lookup takes its failure in advance: see throttle.ts)
      const reserved = cache.willQuery(sentId);
      const cached = reserved ? undefined : cache.get(sentId);
      // the common case — a cached policy and a local rate-limit token — decides without a promise
      if (!reserved && !(cached instanceof Promise)) return decide(call, cached, false);
      return lookUp(call, sentId, reserved, cached instanceof Promise ? cached : undefined);
    };
  }

  async function lookUp(call: Call, sentId: string, reserved: boolean, cached: Promise<CachedClient | undefined> | undefined): Promise<void> {
    if (reserved) {
      const reserveWait = await throttle.reserve(call.network);
      if (reserveWait > 0) throw throttled(call, reserveWait);
    }
    const loaded = reserved ? await cache.get(sentId) : await cached;
    if (reserved && loaded && loaded.snapshot.status !== 'deleted') throttle.release(call.network);
    return await decide(call, loaded, reserved);
  }

  function decide(call: Call, client: CachedClient | undefined, lookupReserved: boolean): void | Promise<void> {
    // 2–12. the client and its policy for this domain (evaluate.ts, shared with replays)
    const { decision, domain, secret } = evaluateCall(client, {
      secretSha256: call.secretHash,
      domain: call.sentDomain,
      ip: call.ip,
      kind: call.requirement.kind,
      scope: call.scope,
      now: call.at.getTime(),
    });
    // a deleted client still has a snapshot: its position lets a replay re-derive the denial
    const position = client?.snapshot.position ?? null;
    if (!decision.allowed) {
      // failed authentications count against the caller's network (an unknown id was counted when its lookup was reserved)
      if (decision.reason === 'invalid_secret' || (decision.reason === 'unknown_client' && !lookupReserved)) throttle.fail(call.network);
      throw refuse(call, decision.reason, position);
    }
    const { snapshot } = client!;
    // 13. the plan's rate limit, counted across the nodes (plan-limiter.ts)
    const verdict = limiter.take(snapshot.clientId, PLAN_LIMITS[snapshot.plan!].requestsPerMinute);
    if (typeof verdict === 'number') return allow(call, snapshot, domain!, secret!, verdict);
    return verdict.then((refusedForMs) => allow(call, snapshot, domain!, secret!, refusedForMs));
  }

  function allow(call: Call, snapshot: ClientSnapshot, domain: DomainFacts, secret: SecretFacts, refusedForMs: number): void {
    if (refusedForMs > 0) {
      decisions.rate_limited += 1;
      throw deny(call.req, 'rate_limited', sent(call, snapshot.position), { 'Retry-After': retryAfterSeconds(refusedForMs) });
    }
    decisions.allowed += 1;
    log.allow(snapshot.clientId, domain.domainId, call.at, {
      secretId: secret.secretId,
      // as sent (a domain id is case-sensitive); only the port goes
      domain: hostOf(call.sentDomain),
      ip: call.ip ?? null,
      kind: call.requirement.kind,
      scope: call.scope,
    });
    (call.req as Request & { access?: AccessGrant }).access = grantOf(snapshot, domain, secret);
    call.next();
  }

  return { require, deny, decisions };
}

export type AccessPipeline = ReturnType<typeof createAccessPipeline>;
