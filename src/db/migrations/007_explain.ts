import { type Kysely, sql } from 'kysely';

/**
 * What explain and the impact preview need from the decision log (issue 8), all additive:
 * - auth_denials keeps the caller's own X-Request-Id beside the denial's generated id, and the
 *   endpoint's requirement (kind, scope), so a denial can be replayed;
 * - auth_allow_callers: distinct allowed callers (secret, domain as sent, IP, requirement) per
 *   client and hour, with counts and first/last times — the preview's "who would be refused",
 *   and `lastUsedAt` per secret and domain.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('auth_denials')
    .addColumn('caller_request_id', 'text')
    .addColumn('requirement_kind', 'text')
    .addColumn('requirement_scope', 'text')
    .execute();
  await sql`CREATE INDEX auth_denials_caller_request_idx ON auth_denials (caller_request_id) WHERE caller_request_id IS NOT NULL`.execute(db);

  await db.schema
    .createTable('auth_allow_callers')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('hour', 'timestamptz', (c) => c.notNull())
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('domain_id', 'text', (c) => c.notNull())
    // X-Client-Domain as sent, without a port: a name or a domain id
    .addColumn('domain', 'text', (c) => c.notNull())
    // '' when the pipeline saw no address; key columns cannot be null
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    // '' = the endpoint needs no scope
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('first_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('auth_allow_callers_pkey', ['client_id', 'hour', 'secret_id', 'domain_id', 'domain', 'ip', 'kind', 'scope'])
    .execute();
  await sql`CREATE INDEX auth_allow_callers_hour_idx ON auth_allow_callers (hour)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('auth_allow_callers').execute();
  await sql`DROP INDEX auth_denials_caller_request_idx`.execute(db);
  await db.schema.alterTable('auth_denials').dropColumn('caller_request_id').dropColumn('requirement_kind').dropColumn('requirement_scope').execute();
}
