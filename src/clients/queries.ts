import { type Kysely, sql } from 'kysely';
import type { CoreDatabase, ReadModelDatabase } from '../db/schema.ts';
import { formatPosition } from '../eventstore/port.ts';

/** Read side of the client capability: every answer comes from the read models. */

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export interface ClientSummary {
  clientId: string;
  name: string;
  status: string;
  createdAt: string;
  updatedAt: string;
}

export async function listClients(rm: Kysely<ReadModelDatabase>, organisationId: string): Promise<ClientSummary[]> {
  const rows = await rm
    .selectFrom('clients')
    .select(['client_id', 'name', 'status', 'created_at', 'updated_at'])
    .where('organisation_id', '=', organisationId)
    .where('status', '!=', 'deleted')
    .orderBy('created_at')
    .orderBy('client_id')
    .execute();
  return rows.map((r) => ({ clientId: r.client_id, name: r.name, status: r.status, createdAt: iso(r.created_at)!, updatedAt: iso(r.updated_at)! }));
}

/** The organisation owning a client, if it is that organisation's and (unless asked) not deleted. */
export async function ownedClient(
  rm: Kysely<ReadModelDatabase>,
  organisationId: string,
  clientId: string,
  options: { includeDeleted?: boolean } = {},
): Promise<{ clientId: string; status: string } | undefined> {
  let query = rm
    .selectFrom('clients')
    .select(['client_id', 'status'])
    .where('client_id', '=', clientId)
    .where('organisation_id', '=', organisationId);
  if (!options.includeDeleted) query = query.where('status', '!=', 'deleted');
  const row = await query.executeTakeFirst();
  return row ? { clientId: row.client_id, status: row.status } : undefined;
}

/** What GET /clients/:clientId shows, from wherever it comes: the read models, or a fold of events (src/audit). */
export interface ClientDetailsSource {
  readonly client: { clientId: string; name: string; status: string; createdAt: Date; updatedAt: Date; revision: string };
  readonly secrets: readonly {
    secretId: string;
    label: string;
    hint: string;
    status: string;
    expiresAt: Date | null;
    graceUntil: Date | null;
    replacedBy: string | null;
    issuedAt: Date;
    revokedAt: Date | null;
  }[];
  readonly domains: readonly {
    domainId: string;
    domain: string;
    serverIps: readonly string[];
    internalName: string | null;
    logo: string | null;
    fallbackUri: string | null;
    allowLogin: boolean;
    allowApi: boolean;
    active: boolean;
    primary: boolean;
    testMode: boolean;
    createdAt: Date;
  }[];
  readonly links: readonly { secretId: string; domainId: string }[];
  readonly redirectUris: readonly { uri: string; addedAt: Date }[];
  readonly scopes: readonly string[];
  readonly testUsers: readonly { sub: number; addedAt: Date }[];
}

/** When each secret and domain was last used by an allowed request (from the decision log). */
export interface LastUsed {
  readonly secrets: ReadonlyMap<string, Date>;
  readonly domains: ReadonlyMap<string, Date>;
}

const NEVER_USED: LastUsed = { secrets: new Map(), domains: new Map() };

export async function clientDetails(rm: Kysely<ReadModelDatabase>, clientId: string, db?: Kysely<CoreDatabase>) {
  const [source, used] = await Promise.all([clientDetailsSource(rm, clientId), db ? lastUsed(db, clientId) : NEVER_USED]);
  return serialiseClientDetails(source, used);
}

export type ClientDetails = ReturnType<typeof serialiseClientDetails>;

export async function clientDetailsSource(rm: Kysely<ReadModelDatabase>, clientId: string): Promise<ClientDetailsSource> {
  const [client, secrets, domains, links, redirectUris, scopes, testUsers] = await Promise.all([
    rm.selectFrom('clients').selectAll().where('client_id', '=', clientId).executeTakeFirstOrThrow(),
    rm
      .selectFrom('client_secrets')
      .select(['secret_id', 'label', 'hint', 'status', 'expires_at', 'grace_until', 'replaced_by', 'issued_at', 'revoked_at'])
      .where('client_id', '=', clientId)
      .execute(),
    rm.selectFrom('client_domains').selectAll().where('client_id', '=', clientId).execute(),
    rm.selectFrom('secret_links').select(['secret_id', 'domain_id']).where('client_id', '=', clientId).execute(),
    rm.selectFrom('redirect_uris').select(['uri', 'added_at']).where('client_id', '=', clientId).execute(),
    rm.selectFrom('client_scopes').select('scope').where('client_id', '=', clientId).execute(),
    rm.selectFrom('test_users').select(['user_sub', 'added_at']).where('client_id', '=', clientId).execute(),
  ]);
  return {
    client: {
      clientId: client.client_id,
      name: client.name,
      status: client.status,
      createdAt: client.created_at,
      updatedAt: client.updated_at,
      revision: client.revision,
    },
    secrets: secrets.map((s) => ({
      secretId: s.secret_id,
      label: s.label,
      hint: s.hint,
      status: s.status,
      expiresAt: s.expires_at,
      graceUntil: s.grace_until,
      replacedBy: s.replaced_by,
      issuedAt: s.issued_at,
      revokedAt: s.revoked_at,
    })),
    domains: domains.map((d) => ({
      domainId: d.domain_id,
      domain: d.domain,
      serverIps: d.server_ips,
      internalName: d.internal_name,
      logo: d.logo,
      fallbackUri: d.fallback_uri,
      allowLogin: d.allow_login,
      allowApi: d.allow_api,
      active: d.active,
      primary: d.primary,
      testMode: d.test_mode,
      createdAt: d.created_at,
    })),
    links: links.map((l) => ({ secretId: l.secret_id, domainId: l.domain_id })),
    redirectUris: redirectUris.map((r) => ({ uri: r.uri, addedAt: r.added_at })),
    scopes: scopes.map((s) => s.scope),
    testUsers: testUsers.map((t) => ({ sub: t.user_sub, addedAt: t.added_at })),
  };
}

/**
 * Last use of each secret and domain by an allowed request, from the decision log's distinct
 * callers (kept as long as the log: 30 days). With `at`, as it was known then: an hour's row
 * counts with its last use when that was by `at`, else with its first use if that was.
 */
export async function lastUsed(db: Kysely<CoreDatabase>, clientId: string, at?: Date): Promise<LastUsed> {
  let query = db
    .selectFrom('auth_allow_callers')
    .select(['secret_id', 'domain_id'])
    .where('client_id', '=', clientId);
  if (at) {
    query = query
      .select(sql<Date>`max(CASE WHEN last_at <= ${at} THEN last_at ELSE first_at END)`.as('last'))
      .where('first_at', '<=', at);
  } else {
    query = query.select((eb) => eb.fn.max('last_at').as('last'));
  }
  const rows = (await query.groupBy(['secret_id', 'domain_id']).execute()) as { secret_id: string; domain_id: string; last: Date }[];
  const secrets = new Map<string, Date>();
  const domains = new Map<string, Date>();
  const later = (map: Map<string, Date>, key: string, value: Date) => {
    const seen = map.get(key);
    if (!seen || seen < value) map.set(key, value);
  };
  for (const row of rows) {
    later(secrets, row.secret_id, row.last);
    later(domains, row.domain_id, row.last);
  }
  return { secrets, domains };
}

const byTimeThen = <T>(time: (t: T) => Date, key: (t: T) => string | number) => (a: T, b: T) =>
  time(a).getTime() - time(b).getTime() || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/**
 * The one serialiser of a client (GET /clients/:clientId, and its past states). Orders are fixed
 * here, not by the source, so the read models and a fold of events serialise alike.
 */
export function serialiseClientDetails(source: ClientDetailsSource, used: LastUsed = NEVER_USED) {
  const { client } = source;
  const secrets = [...source.secrets].sort(byTimeThen((s) => s.issuedAt, (s) => s.secretId));
  const domains = [...source.domains].sort(byTimeThen((d) => d.createdAt, (d) => d.domain));
  const linked = new Set(source.links.map((l) => `${l.secretId}\u0000${l.domainId}`));
  const domainsOf = (secretId: string) => domains.filter((d) => linked.has(`${secretId}\u0000${d.domainId}`)).map((d) => d.domainId);
  const secretsOf = (domainId: string) => secrets.filter((s) => linked.has(`${s.secretId}\u0000${domainId}`)).map((s) => s.secretId);
  return {
    clientId: client.clientId,
    name: client.name,
    status: client.status,
    createdAt: iso(client.createdAt),
    updatedAt: iso(client.updatedAt),
    revision: client.revision,
    secrets: secrets.map((s) => ({
      secretId: s.secretId,
      label: s.label,
      hint: s.hint,
      status: s.status,
      expiresAt: iso(s.expiresAt),
      graceUntil: iso(s.graceUntil),
      replacedBy: s.replacedBy,
      issuedAt: iso(s.issuedAt),
      revokedAt: iso(s.revokedAt),
      lastUsedAt: iso(used.secrets.get(s.secretId) ?? null),
      domains: domainsOf(s.secretId),
    })),
    domains: domains.map((d) => ({
      domainId: d.domainId,
      domain: d.domain,
      serverIps: [...d.serverIps],
      internalName: d.internalName,
      logo: d.logo,
      fallbackUri: d.fallbackUri,
      allowLogin: d.allowLogin,
      allowApi: d.allowApi,
      active: d.active,
      primary: d.primary,
      testMode: d.testMode,
      createdAt: iso(d.createdAt),
      lastUsedAt: iso(used.domains.get(d.domainId) ?? null),
      secrets: secretsOf(d.domainId),
    })),
    redirectUris: [...source.redirectUris].sort(byTimeThen((r) => r.addedAt, (r) => r.uri)).map((r) => r.uri),
    scopes: [...source.scopes].sort(),
    testUsers: [...source.testUsers].sort((a, b) => a.sub - b.sub).map((t) => ({ sub: t.sub, addedAt: iso(t.addedAt) })),
  };
}

export interface HistoryEntry {
  type: string;
  at: string;
  actor: string;
  position: string;
  revision: string;
  requestId: string;
  correlationId: string;
  ip: string | null;
  userAgent: string | null;
  data: Record<string, unknown>;
}

/** The client's events, oldest first, from the audit log (secret hashes were never copied there). */
export async function clientHistory(rm: Kysely<ReadModelDatabase>, clientId: string, organisationId?: string): Promise<HistoryEntry[]> {
  let query = rm
    .selectFrom('audit_log')
    .selectAll()
    .where('client_id', '=', clientId)
    .orderBy('commit_position')
    .orderBy('prepare_position');
  if (organisationId) query = query.where('organisation_id', '=', organisationId);
  const rows = await query.execute();
  return rows.map((r) => ({
    type: r.type,
    at: r.at.toISOString(),
    actor: r.actor,
    position: formatPosition({ commit: BigInt(r.commit_position), prepare: BigInt(r.prepare_position) }),
    revision: r.stream_revision,
    requestId: r.request_id,
    correlationId: r.correlation_id,
    ip: r.ip,
    userAgent: r.user_agent,
    data: r.data,
  }));
}
