import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { hasValidSecretFormat } from '../clients/secret-format.ts';
import { callerRequestIdOf } from '../http/request.ts';
import { XwmsError } from '../api/envelope.ts';
import { PLAN_LIMITS, PLAN_NAMES, type PlanName } from '../accounts/plans.ts';
import type { PolicyCache } from './cache.ts';
import { type DecisionLog, newDenialId } from './decision-log.ts';
import { DENIAL_STATUS, type DenialReason, type EndpointKind } from './policy.ts';
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

export interface AccessPipelineOptions {
  readonly cache: PolicyCache;
  readonly log: DecisionLog;
  readonly now: () => Date;
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
  const throttle = new FailedAuthThrottle(options.failedAuth ?? { failures: 100, windowSeconds: 60 });
  // Per node: N nodes allow up to N × the plan's rate (documented).
  const limiters = Object.fromEntries(
    PLAN_NAMES.map((plan) => [plan, new RateLimiterMemory({ points: PLAN_LIMITS[plan].requestsPerMinute, duration: 60, keyPrefix: plan })]),
  ) as Record<PlanName, RateLimiterMemory>;

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

  function require(requirement: AccessRequirement): RequestHandler {
    return async (req, _res, next) => {
      const at = now();
      (req as WithRequirement).accessRequirement = requirement;
      const rawSecret = req.headers['x-client-secret'];
      const secretSha256 =
        typeof rawSecret === 'string' && rawSecret.length > 0 ? createHash('sha256').update(rawSecret.slice(0, 8_192)).digest('hex') : null;
      const sentId = header(req, 'x-client-id', 64);
      const sentDomain = header(req, 'x-client-domain', 260);
      const sentSecret = header(req, 'x-client-secret', 128);
      const base = {
        clientId: typeof req.headers['x-client-id'] === 'string' ? req.headers['x-client-id'].slice(0, 100) : null,
        domain: typeof req.headers['x-client-domain'] === 'string' ? req.headers['x-client-domain'].slice(0, 260) : null,
        secretSha256,
        position: null,
        at,
      };

      // 0. a caller network with too many failed authentications waits, before anything is looked up
      const network = callerNetwork(req.ip);
      const throttled = (ms: number) =>
        deny(req, 'rate_limited', { ...base, clientKnown: false }, { 'Retry-After': retryAfterSeconds(ms) }, THROTTLED_MESSAGE);
      const wait = throttle.refusedFor(network);
      if (wait > 0) throw throttled(wait);

      // 1. present and well-formed (a secret with a bad checksum is refused here, before any lookup)
      if (!sentId || !CLIENT_ID.test(sentId) || !sentDomain || !DOMAIN.test(sentDomain) || !hasValidSecretFormat(sentSecret)) {
        throttle.fail(network);
        throw deny(req, 'missing_credentials', base);
      }
      // 2. the client exists and is not deleted (a lookup takes its failure in advance: see throttle.ts)
      const reserved = cache.willQuery(sentId);
      if (reserved) {
        const reserveWait = await throttle.reserve(network);
        if (reserveWait > 0) throw throttled(reserveWait);
      }
      const cached = cache.get(sentId);
      const client = cached instanceof Promise ? await cached : cached;
      if (reserved && client && client.snapshot.status !== 'deleted') throttle.release(network);

      // 2–12. the client and its policy for this domain (evaluate.ts, shared with replays)
      const { decision, domain, secret } = evaluateCall(client, {
        secretSha256: Buffer.from(secretSha256!, 'hex'),
        domain: sentDomain,
        ip: req.ip,
        kind: requirement.kind,
        scope: requirement.scope ?? null,
        now: at.getTime(),
      });
      // a deleted client still has a snapshot: its position lets a replay re-derive the denial
      const context = { ...base, position: client?.snapshot.position ?? null };
      if (!decision.allowed) {
        // failed authentications count against the caller's network (an unknown id was counted when its lookup was reserved)
        if (decision.reason === 'invalid_secret' || (decision.reason === 'unknown_client' && !reserved)) throttle.fail(network);
        throw deny(req, decision.reason, context);
      }
      const { snapshot } = client!;

      // 13. the plan's rate limit
      try {
        await limiters[snapshot.plan!].consume(snapshot.clientId, 1);
      } catch (error) {
        if (!(error instanceof RateLimiterRes)) throw error;
        throw deny(req, 'rate_limited', context, { 'Retry-After': retryAfterSeconds(error.msBeforeNext) });
      }

      log.allow(snapshot.clientId, domain!.domainId, at, {
        secretId: secret!.secretId,
        // as sent (a domain id is case-sensitive); only the port goes
        domain: hostOf(sentDomain),
        ip: req.ip ?? null,
        kind: requirement.kind,
        scope: requirement.scope ?? null,
      });
      (req as Request & { access?: AccessGrant }).access = {
        clientId: snapshot.clientId,
        organisationId: snapshot.organisationId,
        domainId: domain!.domainId,
        domain: domain!.domain,
        testMode: domain!.testMode,
        scopes: snapshot.scopes,
        secretId: secret!.secretId,
        testUsers: snapshot.testUsers,
        position: snapshot.position,
      };
      next();
    };
  }

  return { require, deny };
}

export type AccessPipeline = ReturnType<typeof createAccessPipeline>;
