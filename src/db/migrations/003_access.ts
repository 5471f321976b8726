import { type Kysely, sql } from 'kysely';

/**
 * The decision log of the partner API: every denial in full (never the secret: its SHA-256),
 * allows counted per client, domain and minute. Operational data with a retention period,
 * written off the request path.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('auth_denials')
    .addColumn('request_id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('client_id', 'text')
    .addColumn('domain', 'text')
    .addColumn('ip', 'text')
    .addColumn('endpoint', 'text', (c) => c.notNull())
    .addColumn('secret_sha256', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('position', 'text')
    .execute();
  await db.schema.createIndex('auth_denials_client_idx').on('auth_denials').columns(['client_id', 'at']).execute();
  await db.schema.createIndex('auth_denials_at_idx').on('auth_denials').column('at').execute();

  await db.schema
    .createTable('auth_allow_counts')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('domain_id', 'text', (c) => c.notNull())
    .addColumn('minute', 'timestamptz', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('auth_allow_counts_pkey', ['client_id', 'domain_id', 'minute'])
    .execute();
  await sql`CREATE INDEX auth_allow_counts_minute_idx ON auth_allow_counts (minute)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('auth_allow_counts').execute();
  await db.schema.dropTable('auth_denials').execute();
}
