import type { Kysely } from 'kysely';

/**
 * Support's message rate limit is counted in memory on every node, from its own messages and
 * the other nodes' reports of theirs (src/support/limits.ts): the shared count in
 * `support_limits` is no longer written or read.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('support_limits').ifExists().execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('support_limits')
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expire', 'bigint')
    .execute();
}
