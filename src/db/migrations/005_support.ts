import { type Kysely, sql } from 'kysely';

/**
 * Live support's operational tables (no domain data: tickets are events and read models).
 * - `socket_io_attachments`: @socket.io/postgres-adapter's table for packets over NOTIFY's
 *   8,000-byte limit; the adapter deletes rows older than 30 s.
 * - `support_limits`: rate-limiter-flexible's table (messages per user, shared by every node).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('socket_io_attachments')
    .addColumn('id', 'bigserial', (c) => c.unique())
    .addColumn('created_at', 'timestamptz', (c) => c.defaultTo(sql`now()`))
    .addColumn('payload', 'bytea')
    .execute();
  await db.schema
    .createTable('support_limits')
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expire', 'bigint')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('support_limits').execute();
  await db.schema.dropTable('socket_io_attachments').execute();
}
