import { timingSafeEqual } from 'node:crypto';
import type { CachedClient } from './cache.ts';
import { decideCall, type EndpointKind, type PolicyDecision } from './policy.ts';
import { ipAllowed, parseCallerIp, type DomainFacts, type SecretFacts } from './snapshot.ts';

/**
 * Checks 2–12 of DESIGN §6 for one request, given what the caller presented. The request path
 * calls it on the cached read-model snapshot; replays (src/audit) call it on a snapshot folded
 * from events — one function, so the two cannot decide differently.
 */
export interface PresentedCall {
  /** SHA-256 of the presented secret; null when none was presented */
  readonly secretSha256: Buffer | null;
  /** X-Client-Domain as sent (a `:port` is ignored) */
  readonly domain: string;
  /** the caller's address as the pipeline saw it */
  readonly ip: string | null | undefined;
  readonly kind: EndpointKind;
  readonly scope: string | null;
  /** ms since epoch: the evaluation time */
  readonly now: number;
}

export interface CallOutcome {
  readonly decision: PolicyDecision;
  readonly domain: DomainFacts | undefined;
  readonly secret: SecretFacts | undefined;
}

/** Strips an optional `:port` (domain ids and host names never contain a colon). */
export const hostOf = (sent: string): string => sent.replace(/:\d{1,5}$/, '');

/** Compares the presented secret's hash with every secret of the client, in constant time. */
export function matchSecret(secrets: readonly SecretFacts[], presented: Buffer | null): SecretFacts | undefined {
  if (!presented || presented.length !== 32) return undefined;
  let match: SecretFacts | undefined;
  for (const secret of secrets) if (secret.hash.length === 32 && timingSafeEqual(secret.hash, presented) && !match) match = secret;
  return match;
}

export function evaluateCall(client: CachedClient | undefined, call: PresentedCall): CallOutcome {
  // 2. the client exists and is not deleted
  if (!client || client.snapshot.status === 'deleted') {
    return { decision: { allowed: false, reason: 'unknown_client' }, domain: undefined, secret: undefined };
  }
  // 3–12. the client's policy for this domain
  const domain = client.findDomain(call.domain);
  const secret = matchSecret(client.snapshot.secrets, call.secretSha256);
  const decision = decideCall(client.policyFor(domain), {
    secretId: secret?.secretId ?? null,
    kind: call.kind,
    // the address is parsed only for a domain with an allowlist
    ipAllowed: domain ? domain.ranges.length === 0 || ipAllowed(domain, parseCallerIp(call.ip ?? undefined)) : false,
    scope: call.scope,
    now: call.now,
  });
  return { decision, domain, secret };
}
