import { type Kysely, sql } from 'kysely';

/**
 * A user may belong to several organisations (memberships are the `members` read model); each
 * session selects one. Null: the session has not chosen, and acts in the user's default one
 * (src/accounts/sessions.ts). `users.organisation_id` stays as the organisation made at
 * registration, which is that default while the user is a member of it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE sessions ADD COLUMN organisation_id text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE sessions DROP COLUMN organisation_id`.execute(db);
}
