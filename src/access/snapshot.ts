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

const ms = (d: Date | null) => (d ? d.getTime() : null);

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
  return await database.rmRaw
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const rm = trx.withSchema(READ_MODEL_SCHEMA);
      const client = await rm
        .selectFrom('clients')
        .innerJoin('organisations', 'organisations.organisation_id', 'clients.organisation_id')
        .select(['clients.client_id', 'clients.organisation_id', 'clients.status', 'organisations.plan', 'organisations.plan_status'])
        .where('clients.client_id', '=', clientId)
        .executeTakeFirst();
      if (!client) return undefined;
      const [secrets, links, domains, scopes, testUsers, checkpoint] = await Promise.all([
        rm.selectFrom('client_secrets').selectAll().where('client_id', '=', clientId).execute(),
        rm.selectFrom('secret_links').select(['secret_id', 'domain_id']).where('client_id', '=', clientId).execute(),
        // Oldest first, so that everything derived from the list is in one stable order.
        rm.selectFrom('client_domains').selectAll().where('client_id', '=', clientId).orderBy('created_at').orderBy('domain_id').execute(),
        rm.selectFrom('client_scopes').select('scope').where('client_id', '=', clientId).execute(),
        rm.selectFrom('test_users').select('user_sub').where('client_id', '=', clientId).execute(),
        sql<{ commit_position: string; prepare_position: string }>`SELECT commit_position, prepare_position FROM ${sql.id(READ_MODEL_SCHEMA)}.checkpoints WHERE projection = 'policy'`.execute(trx),
      ]);
      const plan = (client.plan as PlanName | null) ?? null;
      const cp = checkpoint.rows[0];
      return {
        clientId,
        organisationId: client.organisation_id,
        status: client.status,
        planActive: client.plan_status === 'active' && plan !== null,
        plan,
        requestsPerMinute: plan ? PLAN_LIMITS[plan].requestsPerMinute : 0,
        scopes: scopes.map((s) => s.scope),
        secrets: secrets.map((s) => ({
          secretId: s.secret_id,
          hash: Buffer.from(s.secret_hash, 'hex'),
          status: s.status,
          expiresAt: ms(s.expires_at),
          graceUntil: ms(s.grace_until),
          linkedDomainIds: new Set(links.filter((l) => l.secret_id === s.secret_id).map((l) => l.domain_id)),
        })),
        domains: domains.map(domainFacts),
        testUsers: new Set(testUsers.map((t) => t.user_sub)),
        position: cp ? formatPosition({ commit: BigInt(cp.commit_position), prepare: BigInt(cp.prepare_position) }) : '0/0',
      };
    });
}

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
