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

function cachedClient(snapshot: ClientSnapshot): CachedClient {
  const policies = new Map<string, ReturnType<typeof buildPolicy>>();
  const findDomain = domainFinder(snapshot.domains);
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

/**
 * Per-node cache of client policies. The projector's notifications drop changed clients (the
 * node that served a write hears of it before the write answers); while the notification
 * connection is down the cache does not trust itself and reads every request through.
 */
export class PolicyCache {
  private readonly entries = new LRUCache<string, CachedClient | { missing: true }>({ max: 50_000 });
  /** bumped on every invalidation, so a load that raced one is not cached */
  private readonly generations = new Map<string, number>();
  private globalGeneration = 0;
  private trusted: boolean;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly database: Database,
    watcher: ProjectionWatcher,
  ) {
    this.trusted = watcher.connected();
    this.unsubscribe.push(
      watcher.onChange((change) => {
        if (change.all) return this.clear();
        for (const id of change.clientIds) this.invalidate(id);
        if (change.organisationIds.length > 0) {
          const organisations = new Set(change.organisationIds);
          for (const [id, entry] of this.entries.entries()) {
            if ('snapshot' in entry && organisations.has(entry.snapshot.organisationId)) this.invalidate(id);
          }
        }
      }),
      watcher.onReset((connected) => {
        this.clear();
        this.trusted = connected;
      }),
    );
  }

  private invalidate(clientId: string): void {
    this.generations.set(clientId, (this.generations.get(clientId) ?? 0) + 1);
    this.entries.delete(clientId);
  }

  private clear(): void {
    this.globalGeneration += 1;
    this.generations.clear();
    this.entries.clear();
  }

  /** Undefined when the client does not exist. A cached answer comes back without a promise. */
  get(clientId: string): CachedClient | undefined | Promise<CachedClient | undefined> {
    const hit = this.trusted ? this.entries.get(clientId) : undefined;
    if (hit) return 'missing' in hit ? undefined : hit;
    return this.load(clientId);
  }

  private async load(clientId: string): Promise<CachedClient | undefined> {
    const generation = this.generations.get(clientId) ?? 0;
    const globalGeneration = this.globalGeneration;
    const snapshot = await loadClientSnapshot(this.database, clientId);
    const entry = snapshot ? cachedClient(snapshot) : undefined;
    const unchanged = generation === (this.generations.get(clientId) ?? 0) && globalGeneration === this.globalGeneration;
    if (this.trusted && unchanged) this.entries.set(clientId, entry ?? { missing: true });
    return entry;
  }

  stop(): void {
    for (const off of this.unsubscribe) off();
  }
}
