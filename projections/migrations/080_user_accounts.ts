import type { Kysely } from 'kysely';

/**
 * user_accounts: the life cycle of each end-user account as its events tell it — no personal
 * data (no email, no name): the sub, when it was registered and verified, when the password last
 * changed, and the erasure marker.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('user_accounts')
    .addColumn('user_sub', 'integer', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('registered_at', 'timestamptz')
    .addColumn('email_verified_at', 'timestamptz')
    .addColumn('password_changed_at', 'timestamptz')
    .addColumn('profile_updated_at', 'timestamptz')
    .addColumn('erased_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('user_accounts').execute();
}
