import type { Kysely } from 'kysely';

/**
 * Invitations to organisations (projections/organisations.ts). A link finds its invitation by the
 * SHA-256 of its token (the token itself is nowhere). Run through `withSchema(target)`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('invitations')
    .addColumn('invitation_id', 'text', (c) => c.primaryKey())
    .addColumn('organisation_id', 'text', (c) => c.notNull())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull())
    .addColumn('invited_by', 'integer', (c) => c.notNull())
    .addColumn('invited_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('accepted_by', 'integer')
    .addColumn('settled_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('invitations_token_hash_idx').on('invitations').column('token_hash').unique().execute();
  await db.schema.createIndex('invitations_organisation_idx').on('invitations').columns(['organisation_id', 'status']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('invitations').execute();
}
