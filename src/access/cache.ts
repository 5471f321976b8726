import { LRUCache } from 'lru-cache';
import type { Database } from '../db/database.ts';
import type { ProjectionWatcher } from '../../projections/watcher.ts';
import { canonicalHost, lookupKeyOfCanonical } from '../clients/domain-name.ts';
import { type ClientSnapshot, type DomainFacts, loadClientSnapshot } from './snapshot.ts';
import { buildPolicy } from './policy.ts';

export interface CachedClient {
  readonly snapshot: ClientSnapshot;
  /** the CASL policy per (client, domain key), built on first use */
  policyFor(domain: DomainFacts | undefined): ReturnType<typeof buildPolicy>;
  /** The domain an `X-Client-Domain` value names, or undefined (unknown, or not one domain). */
  findDomain(sent: string): DomainFacts | undefined;
}

/** Strips an optional `:port` from a host (domain ids and host names never contain a colon). */
const withoutPort = (sent: string) => {
  const colon = sent.lastIndexOf(':');
  return colon >= 0 && /^:\d{1,5}$/.test(sent.slice(colon)) ? sent.slice(0, colon) : sent;
};

/**
 * By domainId (exactly as issued), or by host: the canonical host of the value sent (case, IDN
 * spelling, a port and a trailing dot ignored) looked up by its key (a leading `www.` ignored).
 * New domains never share a key (the aggregate refuses it), but older streams may hold both
 * `shop.example.com` and `www.shop.example.com`. Then the domain named exactly is the one that
 * was meant, as in any host-based router (nginx, Envoy): its own allowlist and switches decide.
 * Anything still ambiguous — two stored spellings of one host — is refused, never resolved by
 * row order: a guess could apply the looser domain's rules to the stricter domain's calls.
 */
export function domainFinder(domains: readonly DomainFacts[]): (sent: string) => DomainFacts | undefined {
  const byId = new Map(domains.map((d) => [d.domainId, d]));
  const byKey = new Map<string, DomainFacts[]>();
  for (const domain of domains) byKey.set(domain.matchKey, [...(byKey.get(domain.matchKey) ?? []), domain]);
  return (sent) => {
    const byDomainId = byId.get(sent);
    if (byDomainId) return byDomainId;
    const host = canonicalHost(withoutPort(sent));
    if (host === undefined) return undefined;
    const candidates = byKey.get(lookupKeyOfCanonical(host)) ?? [];
    if (candidates.length <= 1) return candidates[0];
    const exact = candidates.filter((domain) => domain.host === host);
    return exact.length === 1 ? exact[0] : undefined;
  };
}

/**
 * A snapshot with its policies built on demand. Used by the request path (cached per node) and by
 * replays (src/audit), so both decide with the same code.
 */
export function cachedClient(snapshot: ClientSnapshot): CachedClient {
  const policies = new Map<string, ReturnType<typeof buildPolicy>>();
  const finder = domainFinder(snapshot.domains);
  // the few spellings a partner sends, each canonicalised once (IDN parsing is not free); bounded,
  // since the value is the caller's
  const found = new Map<string, DomainFacts | undefined>();
  const findDomain = (sent: string) => {
    if (found.has(sent)) return found.get(sent);
    const domain = finder(sent);
    if (found.size < 32) found.set(sent, domain);
    return domain;
  };
  return {
    snapshot,
    policyFor(domain) {
      const key = domain?.domainId ?? '';
      let policy = policies.get(key);
      if (!policy) {
        policy = buildPolicy(snapshot, domain);
        policies.set(key, policy);
      }
      return policy;
    },
    findDomain,
  };
}

export interface PolicyCacheOptions {
  /** client entries kept (real clients only) */
  readonly maxClients?: number;
  /** unknown client ids remembered, in their own LRU so random ids never evict real clients */
  readonly maxUnknown?: number;
  /** how long an unknown id is remembered (ms); the projector's NOTIFY forgets it sooner when a client with that id is registered */
  readonly unknownTtlMs?: number;
  /** the clock the TTL runs on (the app's injected clock) */
  readonly now?: () => Date;
}

/** Refreshes a batch's writer waits for; beyond this the batch's clients load on their own. */
const MAX_REFRESHES_AWAITED = 32;

/**
 * Per-node cache of client policies. The projector's notifications drop changed clients (the
 * node that served a write hears of it before the write answers); while the notification
 * connection is down the cache does not trust itself and reads every request through.
 *
 * Client ids that name no client are remembered briefly, apart from the real clients: a flood
 * of random ids then costs one lookup per id, and cannot push real clients out of the cache.
 * Concurrent misses for one id share one lookup.
 */
export class PolicyCache {
  private readonly entries: LRUCache<string, CachedClient>;
  private readonly unknown: LRUCache<string, true>;
  /** lookups running now, so concurrent misses for one id wait for the same one */
  private readonly loading = new Map<string, Promise<CachedClient | undefined>>();
  /** bumped on every invalidation, so a load that raced one is not cached */
  private readonly generations = new Map<string, number>();
  private globalGeneration = 0;
  private trusted: boolean;
  private readonly unsubscribe: (() => void)[] = [];
  /** database lookups started (for tests and benchmarks: what a flood costs) */
  lookups = 0;
  /** for the metrics: answers from the cache, answers that waited for a lookup, clients dropped, whole-cache drops */
  readonly counts = { hits: 0, misses: 0, invalidations: 0, clears: 0 };

  constructor(
    private readonly database: Database,
    watcher: ProjectionWatcher,
    options: PolicyCacheOptions = {},
  ) {
    this.entries = new LRUCache({ max: options.maxClients ?? 50_000 });
    const now = options.now ?? (() => new Date());
    this.unknown = new LRUCache({
      max: options.maxUnknown ?? 10_000,
      ttl: options.unknownTtlMs ?? 30_000,
      ttlResolution: 0,
      perf: { now: () => now().getTime() },
    });
    this.trusted = watcher.connected();
    this.unsubscribe.push(
      watcher.onChange((change) => {
        // only the policy lane writes what policies are built from
        if (change.lane !== 'policy') return;
        if (change.all) return this.clear();
        const refreshing: Promise<unknown>[] = [];
        const drop = (id: string) => {
          const refresh = this.invalidate(id);
          if (refresh) refreshing.push(refresh);
        };
        for (const id of change.clientIds) drop(id);
        if (change.organisationIds.length > 0) {
          const organisations = new Set(change.organisationIds);
          for (const [id, entry] of this.entries.entries()) {
            if (organisations.has(entry.snapshot.organisationId)) drop(id);
          }
        }
        // The watcher resolves waits for this batch once these refreshes are done: the write
        // that caused it answers when this node already decides by it, without a cold lookup.
        // (A change reaching a whole organisation's clients does not hold writes for all of them.)
        if (refreshing.length > 0 && refreshing.length <= MAX_REFRESHES_AWAITED) return Promise.allSettled(refreshing);
      }),
      watcher.onReset((connected) => {
        this.clear();
        this.trusted = connected;
      }),
    );
  }

  /** The refresh of a client in use, when one starts. */
  private invalidate(clientId: string): Promise<unknown> | undefined {
    this.counts.invalidations += 1;
    this.generations.set(clientId, (this.generations.get(clientId) ?? 0) + 1);
    const wasCached = this.entries.delete(clientId);
    this.unknown.delete(clientId);
    // a lookup that started before the change may miss it: later requests start their own
    this.loading.delete(clientId);
    // A client in use is read again now, not by its next request: that request then finds the
    // new policy loaded (or loading), and a change costs the caller no cold lookup.
    return wasCached && this.trusted ? this.startLoad(clientId) : undefined;
  }

  private clear(): void {
    this.counts.clears += 1;
    this.globalGeneration += 1;
    this.generations.clear();
    this.entries.clear();
    this.unknown.clear();
    this.loading.clear();
  }

  /** True when `get(clientId)` would start a database lookup (no cached answer, none running). */
  willQuery(clientId: string): boolean {
    if (!this.trusted) return true;
    return !this.entries.has(clientId) && !this.unknown.has(clientId) && !this.loading.has(clientId);
  }

  /** Undefined when the client does not exist. A cached answer comes back without a promise. */
  get(clientId: string): CachedClient | undefined | Promise<CachedClient | undefined> {
    // Untrusted (notifications down): every request reads through, sharing nothing.
    if (!this.trusted) {
      this.counts.misses += 1;
      return this.load(clientId);
    }
    const hit = this.entries.get(clientId);
    if (hit) {
      this.counts.hits += 1;
      return hit;
    }
    if (this.unknown.get(clientId)) {
      this.counts.hits += 1;
      return undefined;
    }
    this.counts.misses += 1;
    return this.loading.get(clientId) ?? this.startLoad(clientId);
  }

  private startLoad(clientId: string): Promise<CachedClient | undefined> {
    const load = this.load(clientId).finally(() => {
      if (this.loading.get(clientId) === load) this.loading.delete(clientId);
    });
    this.loading.set(clientId, load);
    // a refresh nobody waits for must not become an unhandled rejection
    load.catch(() => {});
    return load;
  }

  private async load(clientId: string): Promise<CachedClient | undefined> {
    this.lookups += 1;
    const generation = this.generations.get(clientId) ?? 0;
    const globalGeneration = this.globalGeneration;
    const snapshot = await loadClientSnapshot(this.database, clientId);
    const entry = snapshot ? cachedClient(snapshot) : undefined;
    const unchanged = generation === (this.generations.get(clientId) ?? 0) && globalGeneration === this.globalGeneration;
    if (this.trusted && unchanged) {
      if (entry) this.entries.set(clientId, entry);
      else this.unknown.set(clientId, true);
    }
    return entry;
  }

  /** clients cached now */
  get size(): number {
    return this.entries.size;
  }

  stop(): void {
    for (const off of this.unsubscribe) off();
  }
}
