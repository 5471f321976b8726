import ipaddr from 'ipaddr.js';
import { sql } from 'kysely';
import type { Database } from '../db/database.ts';
import { READ_MODEL_SCHEMA } from '../db/schema.ts';
import type { PlanName } from '../accounts/plans.ts';
import { PLAN_LIMITS } from '../accounts/plans.ts';
import { formatPosition } from '../eventstore/port.ts';
import { canonicalHost, domainLookupKey, lookupKeyOfCanonical } from '../clients/domain-name.ts';

/** Everything the access policy needs about one client, read from the read models in one snapshot. */
export interface ClientSnapshot {
  readonly clientId: string;
  readonly organisationId: string;
  readonly status: 'active' | 'disabled' | 'deleted';
  readonly planActive: boolean;
  readonly plan: PlanName | null;
  readonly requestsPerMinute: number;
  readonly scopes: readonly string[];
  readonly secrets: readonly SecretFacts[];
  readonly domains: readonly DomainFacts[];
  readonly testUsers: ReadonlySet<number>;
  /** the read-model checkpoint this snapshot was read at ("commit/prepare") */
  readonly position: string;
}

export interface SecretFacts {
  readonly secretId: string;
  readonly hash: Buffer;
  readonly status: 'active' | 'rotated' | 'revoked';
  /** ms since epoch; null = never */
  readonly expiresAt: number | null;
  readonly graceUntil: number | null;
  readonly linkedDomainIds: ReadonlySet<string>;
}

export interface DomainFacts {
  readonly domainId: string;
  readonly domain: string;
  /** the domain's canonical host (clients/domain-name.ts): what an exact match compares */
  readonly host: string;
  /** the domain's lookup key: the canonical host without a leading `www.` */
  readonly matchKey: string;
  readonly active: boolean;
  readonly allowApi: boolean;
  readonly allowLogin: boolean;
  readonly testMode: boolean;
  readonly serverIps: readonly string[];
  readonly ranges: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];
}

/** An allowlist entry (address or CIDR range) as [network, prefix bits]. */
export function parseRange(entry: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  if (entry.includes('/')) return ipaddr.parseCIDR(entry);
  const address = ipaddr.parse(entry);
  return [address, address.kind() === 'ipv4' ? 32 : 128];
}

/** The lookup key of any host as sent or stored (replays compare names with it). */
export const domainMatchKey = (host: string): string => domainLookupKey(host) ?? host.toLowerCase();

/** A domain row's access facts; its host and key come from the one normalisation (clients/domain-name.ts). */
export function domainFacts(row: {
  domain_id: string;
  domain: string;
  active: boolean;
  allow_api: boolean;
  allow_login: boolean;
  test_mode: boolean;
  server_ips: string[];
}): DomainFacts {
  // A stored name is canonical already; an old one that is not a host name matches only itself.
  const host = canonicalHost(row.domain) ?? row.domain.toLowerCase();
  return {
    domainId: row.domain_id,
    domain: row.domain,
    host,
    matchKey: lookupKeyOfCanonical(host),
    active: row.active,
    allowApi: row.allow_api,
    allowLogin: row.allow_login,
    testMode: row.test_mode,
    serverIps: row.server_ips,
    ranges: row.server_ips.map(parseRange),
  };
}

/**
 * Reads one client's access facts in a single REPEATABLE READ transaction, so the rows and the
 * checkpoint agree. Undefined when the client does not exist.
 */
export async function loadClientSnapshot(database: Database, clientId: string): Promise<ClientSnapshot | undefined> {
  // One statement, one round trip: a statement sees one snapshot of the read models, so the
  // client, its secrets, links, domains, scopes, test users and the lane's checkpoint agree
  // without a transaction (this is the policy cache's miss and its refresh after every change).
  const rm = sql.id(READ_MODEL_SCHEMA);
  const { rows } = await sql<{
    organisation_id: string;
    status: ClientSnapshot['status'];
    plan: string | null;
    plan_status: string | null;
    secrets: { secret_id: string; secret_hash: string; status: SecretFacts['status']; expires_at: number | null; grace_until: number | null }[];
    links: [string, string][];
    domains: { domain_id: string; domain: string; active: boolean; allow_api: boolean; allow_login: boolean; test_mode: boolean; server_ips: string[] }[];
    scopes: string[];
    test_users: number[];
    checkpoint: string | null;
  }>`SELECT c.organisation_id, c.status, o.plan, o.plan_status,
      (SELECT coalesce(json_agg(json_build_object(
                'secret_id', s.secret_id, 'secret_hash', s.secret_hash, 'status', s.status,
                'expires_at', floor(extract(epoch FROM s.expires_at) * 1000),
                'grace_until', floor(extract(epoch FROM s.grace_until) * 1000))), '[]')
         FROM ${rm}.client_secrets s WHERE s.client_id = c.client_id) AS secrets,
      (SELECT coalesce(json_agg(json_build_array(l.secret_id, l.domain_id)), '[]')
         FROM ${rm}.secret_links l WHERE l.client_id = c.client_id) AS links,
      -- oldest first, so that everything derived from the list is in one stable order
      (SELECT coalesce(json_agg(json_build_object(
                'domain_id', d.domain_id, 'domain', d.domain, 'active', d.active, 'allow_api', d.allow_api,
                'allow_login', d.allow_login, 'test_mode', d.test_mode, 'server_ips', d.server_ips)
              ORDER BY d.created_at, d.domain_id), '[]')
         FROM ${rm}.client_domains d WHERE d.client_id = c.client_id) AS domains,
      (SELECT coalesce(json_agg(x.scope), '[]') FROM ${rm}.client_scopes x WHERE x.client_id = c.client_id) AS scopes,
      (SELECT coalesce(json_agg(u.user_sub), '[]') FROM ${rm}.test_users u WHERE u.client_id = c.client_id) AS test_users,
      (SELECT k.commit_position || '/' || k.prepare_position FROM ${rm}.checkpoints k WHERE k.projection = 'policy') AS checkpoint
    FROM ${rm}.clients c
    JOIN ${rm}.organisations o ON o.organisation_id = c.organisation_id
    WHERE c.client_id = ${clientId}`.execute(database.rmRaw);
  const client = rows[0];
  if (!client) return undefined;
  const plan = (client.plan as PlanName | null) ?? null;
  const linked = new Map<string, Set<string>>();
  for (const [secretId, domainId] of client.links) {
    let set = linked.get(secretId);
    if (!set) linked.set(secretId, (set = new Set()));
    set.add(domainId);
  }
  return {
    clientId,
    organisationId: client.organisation_id,
    status: client.status,
    planActive: client.plan_status === 'active' && plan !== null,
    plan,
    requestsPerMinute: plan ? PLAN_LIMITS[plan].requestsPerMinute : 0,
    scopes: client.scopes,
    secrets: client.secrets.map((s) => ({
      secretId: s.secret_id,
      hash: Buffer.from(s.secret_hash, 'hex'),
      status: s.status,
      expiresAt: s.expires_at,
      graceUntil: s.grace_until,
      linkedDomainIds: linked.get(s.secret_id) ?? new Set<string>(),
    })),
    domains: client.domains.map(domainFacts),
    testUsers: new Set(client.test_users),
    position: client.checkpoint ? formatPosition(parsePositionText(client.checkpoint)) : '0/0',
  };
}

const parsePositionText = (text: string) => {
  const [commit, prepare] = text.split('/');
  return { commit: BigInt(commit!), prepare: BigInt(prepare!) };
};

/** IPv4-mapped IPv6 is the same address as its IPv4 form. */
export function parseCallerIp(ip: string | undefined): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!ip || !ipaddr.isValid(ip)) return undefined;
  const address = ipaddr.parse(ip);
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
}

export function ipAllowed(domain: DomainFacts, caller: ipaddr.IPv4 | ipaddr.IPv6 | undefined): boolean {
  if (domain.ranges.length === 0) return true;
  if (!caller) return false;
  return domain.ranges.some(([network, bits]) => network.kind() === caller.kind() && caller.match(network, bits));
}
