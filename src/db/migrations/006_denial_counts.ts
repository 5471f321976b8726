import { type Kysely, sql } from 'kysely';

/**
 * Every denial counted per (client, minute, reason, caller network), so a flood stays countable
 * while only the first few denials of each group are kept in full in `auth_denials`.
 * `client_id` is '' when the id as sent named no known client (malformed, unknown, or refused
 * before the lookup): one group, however many random ids are sent. `ip` is the caller's IPv4
 * address or IPv6 /64. `sampled` says how many of `count` were kept in full.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('auth_denial_counts')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('minute', 'timestamptz', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('sampled', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('auth_denial_counts_pkey', ['client_id', 'minute', 'reason', 'ip'])
    .execute();
  await sql`CREATE INDEX auth_denial_counts_minute_idx ON auth_denial_counts (minute)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('auth_denial_counts').execute();
}
