import type { Kysely } from 'kysely';
import type { ReadModelDatabase } from '../db/schema.ts';
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

export async function clientDetails(rm: Kysely<ReadModelDatabase>, clientId: string) {
  const [client, secrets, domains, links, redirectUris, scopes, testUsers] = await Promise.all([
    rm.selectFrom('clients').selectAll().where('client_id', '=', clientId).executeTakeFirstOrThrow(),
    rm
      .selectFrom('client_secrets')
      .select(['secret_id', 'label', 'hint', 'status', 'expires_at', 'grace_until', 'replaced_by', 'issued_at', 'revoked_at'])
      .where('client_id', '=', clientId)
      .orderBy('issued_at')
      .orderBy('secret_id')
      .execute(),
    rm.selectFrom('client_domains').selectAll().where('client_id', '=', clientId).orderBy('created_at').orderBy('domain').execute(),
    rm.selectFrom('secret_links').select(['secret_id', 'domain_id']).where('client_id', '=', clientId).execute(),
    rm.selectFrom('redirect_uris').select(['uri', 'added_at']).where('client_id', '=', clientId).orderBy('added_at').orderBy('uri').execute(),
    rm.selectFrom('client_scopes').select('scope').where('client_id', '=', clientId).orderBy('scope').execute(),
    rm.selectFrom('test_users').select(['user_sub', 'added_at']).where('client_id', '=', clientId).orderBy('user_sub').execute(),
  ]);
  const domainsOf = (secretId: string) => links.filter((l) => l.secret_id === secretId).map((l) => l.domain_id);
  const secretsOf = (domainId: string) => links.filter((l) => l.domain_id === domainId).map((l) => l.secret_id);
  return {
    clientId: client.client_id,
    name: client.name,
    status: client.status,
    createdAt: iso(client.created_at),
    updatedAt: iso(client.updated_at),
    revision: client.revision,
    secrets: secrets.map((s) => ({
      secretId: s.secret_id,
      label: s.label,
      hint: s.hint,
      status: s.status,
      expiresAt: iso(s.expires_at),
      graceUntil: iso(s.grace_until),
      replacedBy: s.replaced_by,
      issuedAt: iso(s.issued_at),
      revokedAt: iso(s.revoked_at),
      domains: domainsOf(s.secret_id),
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
      createdAt: iso(d.created_at),
      secrets: secretsOf(d.domain_id),
    })),
    redirectUris: redirectUris.map((r) => r.uri),
    scopes: scopes.map((s) => s.scope),
    testUsers: testUsers.map((t) => ({ sub: t.user_sub, addedAt: iso(t.added_at) })),
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
