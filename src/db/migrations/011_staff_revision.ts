import { type Kysely, sql } from 'kysely';

/**
 * `users.staff_role` follows the events of the stream `user-<sub>`; it is written after the
 * append, not in one transaction with it (that held a pooled connection while the append waited
 * for another). The stream revision it reflects makes that write ordered: of two changes that
 * race, the later event wins, and a retry rewrites the same state.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users ADD COLUMN staff_revision bigint`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users DROP COLUMN staff_revision`.execute(db);
}
