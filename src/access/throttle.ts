import ipaddr from 'ipaddr.js';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { parseCallerIp } from './snapshot.ts';

const DOTTED_QUAD = /^(?:::ffff:)?(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/**
 * The key a caller is throttled and its denials grouped by: an IPv4 address, or the /64 of an
 * IPv6 address (one host is usually given a whole /64, so per-address keys would be free to
 * rotate). IPv4-mapped IPv6 is its IPv4 address.
 */
export function callerNetwork(ip: string | null | undefined): string {
  // the common case without a parse: it runs on every request
  const quad = ip ? DOTTED_QUAD.exec(ip) : null;
  if (quad && ipaddr.IPv4.isValidFourPartDecimal(quad[1]!)) return quad[1]!;
  const address = parseCallerIp(ip ?? undefined);
  if (!address) return ip ? 'invalid' : 'unknown';
  if (address.kind() === 'ipv4') return address.toString();
  const bytes = address.toByteArray();
  const network = ipaddr.fromByteArray([...bytes.slice(0, 8), 0, 0, 0, 0, 0, 0, 0, 0]);
  return `${network.toString()}/64`;
}

export interface FailedAuthThrottleOptions {
  /** failed authentications a caller network may have per window before it is refused */
  readonly failures: number;
  readonly windowSeconds: number;
}

/**
 * Failed authentications (`missing_credentials`, `unknown_client`, `invalid_secret`) per caller
 * network, checked before the client lookup. Only failures count, so a partner's own good
 * traffic never throttles it. A lookup that may fail (a cache miss) takes its point in advance
 * and gives it back when the client exists: a concurrent flood of random ids then costs at most
 * `failures` lookups per window, whatever its concurrency.
 *
 * Counted in this node's memory, not in Postgres: the throttle exists to spare the database, so
 * its check must cost none (a shared counter would be one more query per request, the very cost
 * a flood should not cause). A caller spread over N nodes gets N budgets; secrets are 256-bit,
 * so a wider budget buys no guessing, only load, and each node's load stays bounded.
 */
export class FailedAuthThrottle {
  private readonly limiter: RateLimiterMemory;
  /** networks out of budget → when they may try again (ms since epoch); read without a promise on every request */
  private readonly exhausted: LRUCache<string, number>;

  constructor(private readonly options: FailedAuthThrottleOptions) {
    this.limiter = new RateLimiterMemory({ keyPrefix: 'auth-failures', points: options.failures, duration: options.windowSeconds });
    this.exhausted = new LRUCache({ max: 100_000, ttl: options.windowSeconds * 1000 });
  }

  /** Milliseconds the network must wait before it may try again; 0 when it may go on. */
  refusedFor(network: string): number {
    const until = this.exhausted.get(network);
    return until === undefined ? 0 : Math.max(1_000, until - Date.now());
  }

  /** Takes a failure in advance for a lookup that may fail; 0 when taken, else the wait in ms. */
  async reserve(network: string): Promise<number> {
    try {
      this.note(network, await this.limiter.consume(network, 1));
      return 0;
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      this.note(network, error);
      return waitOf(error);
    }
  }

  /** The reserved lookup found the client: not a failure after all. */
  release(network: string): void {
    void this.limiter.reward(network, 1).then((state) => {
      if (state.consumedPoints < this.options.failures) this.exhausted.delete(network);
    });
  }

  /** A failure that took no point in advance. */
  fail(network: string): void {
    void this.limiter.penalty(network, 1).then((state) => this.note(network, state));
  }

  private note(network: string, state: RateLimiterRes): void {
    if (state.consumedPoints >= this.options.failures) {
      this.exhausted.set(network, Date.now() + state.msBeforeNext, { ttl: Math.max(1, state.msBeforeNext) });
    }
  }
}

const waitOf = (state: RateLimiterRes) => Math.max(1_000, state.msBeforeNext);

/** `Retry-After` in whole seconds, at least 1. */
export const retryAfterSeconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));
