import type { Kysely } from 'kysely';

/**
 * Read models. They live in their own schema (`rm` when live) so that `keyledger rebuild`
 * can build a fresh copy beside the live one and swap it in. Every value is derived from
 * events only (times come from event metadata), so a rebuild is identical row for row.
 * The migrator runs these through `withSchema(target)`: no raw SQL here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('checkpoints')
    .addColumn('projection', 'text', (c) => c.primaryKey())
    .addColumn('commit_position', 'bigint', (c) => c.notNull())
    .addColumn('prepare_position', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('organisations')
    .addColumn('organisation_id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('plan', 'text')
    .addColumn('plan_status', 'text', (c) => c.notNull())
    .addColumn('plan_activated_at', 'timestamptz')
    .addColumn('plan_cancelled_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('members')
    .addColumn('organisation_id', 'text', (c) => c.notNull())
    .addColumn('user_sub', 'integer', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('added_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('members_pkey', ['organisation_id', 'user_sub'])
    .execute();
  await db.schema.createIndex('members_user_sub_idx').on('members').column('user_sub').execute();

  await db.schema
    .createTable('clients')
    .addColumn('client_id', 'text', (c) => c.primaryKey())
    .addColumn('organisation_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revision', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('clients_organisation_idx').on('clients').columns(['organisation_id', 'status']).execute();

  await db.schema
    .createTable('client_secrets')
    .addColumn('secret_id', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('hint', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('grace_until', 'timestamptz')
    .addColumn('replaced_by', 'text')
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('client_secrets_client_idx').on('client_secrets').column('client_id').execute();
  await db.schema.createIndex('client_secrets_hash_idx').on('client_secrets').column('secret_hash').execute();

  await db.schema
    .createTable('client_domains')
    .addColumn('domain_id', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('server_ips', 'jsonb', (c) => c.notNull())
    .addColumn('internal_name', 'text')
    .addColumn('logo', 'text')
    .addColumn('fallback_uri', 'text')
    .addColumn('allow_login', 'boolean', (c) => c.notNull())
    .addColumn('allow_api', 'boolean', (c) => c.notNull())
    .addColumn('active', 'boolean', (c) => c.notNull())
    .addColumn('primary', 'boolean', (c) => c.notNull())
    .addColumn('test_mode', 'boolean', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('client_domains_client_idx').on('client_domains').columns(['client_id', 'domain']).unique().execute();

  await db.schema
    .createTable('secret_links')
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('domain_id', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('linked_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('secret_links_pkey', ['secret_id', 'domain_id'])
    .execute();
  await db.schema.createIndex('secret_links_client_idx').on('secret_links').column('client_id').execute();

  await db.schema
    .createTable('redirect_uris')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('uri', 'text', (c) => c.notNull())
    .addColumn('added_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('redirect_uris_pkey', ['client_id', 'uri'])
    .execute();

  await db.schema
    .createTable('client_scopes')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('client_scopes_pkey', ['client_id', 'scope'])
    .execute();

  await db.schema
    .createTable('test_users')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('user_sub', 'integer', (c) => c.notNull())
    .addColumn('added_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('test_users_pkey', ['client_id', 'user_sub'])
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('commit_position', 'bigint', (c) => c.notNull())
    .addColumn('prepare_position', 'bigint', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('stream_revision', 'bigint', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text')
    .addColumn('organisation_id', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('correlation_id', 'text', (c) => c.notNull())
    .addColumn('causation_id', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addPrimaryKeyConstraint('audit_log_pkey', ['commit_position', 'prepare_position'])
    .execute();
  await db.schema.createIndex('audit_log_client_idx').on('audit_log').columns(['client_id', 'commit_position', 'prepare_position']).execute();
  await db.schema.createIndex('audit_log_organisation_idx').on('audit_log').columns(['organisation_id', 'commit_position', 'prepare_position']).execute();
}

export async function down(): Promise<void> {
  // read models are rebuilt, never migrated down
}
