import { LRUCache } from 'lru-cache';
import type { Database } from '../db/database.ts';
import type { ProjectionWatcher } from '../../projections/watcher.ts';
import { type ClientSnapshot, type DomainFacts, domainMatchKey, loadClientSnapshot } from './snapshot.ts';
import { buildPolicy } from './policy.ts';

export interface CachedClient {
  readonly snapshot: ClientSnapshot;
  /** the CASL policy per (client, domain key), built on first use */
  policyFor(domain: DomainFacts | undefined): ReturnType<typeof buildPolicy>;
  findDomain(sent: string): DomainFacts | undefined;
}

/**
 * A snapshot with its policies built on demand. Used by the request path (cached per node) and by
 * replays (src/audit), so both decide with the same code.
 */
export function cachedClient(snapshot: ClientSnapshot): CachedClient {
  const policies = new Map<string, ReturnType<typeof buildPolicy>>();
  // `www.x.com` and `x.com` may both be domains of one client and share a match key: the exact
  // name wins, so the answer never depends on the order the domains were read in.
  const byName = new Map(snapshot.domains.map((d) => [d.domain.toLowerCase(), d]));
  const byKey = new Map<string, DomainFacts>();
  for (const d of snapshot.domains) if (!byKey.has(d.matchKey) || d.domain === d.matchKey) byKey.set(d.matchKey, d);
  const byId = new Map(snapshot.domains.map((d) => [d.domainId, d]));
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
    findDomain(sent) {
      return byId.get(sent) ?? byName.get(sent.toLowerCase()) ?? byKey.get(domainMatchKey(sent));
    },
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
