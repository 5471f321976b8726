import type { Kysely } from 'kysely';

/**
 * Support tickets and their messages (src/support). Every value comes from ticket events, times
 * from event metadata, so a rebuild gives the same rows. Run through `withSchema(target)`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tickets')
    .addColumn('ticket_id', 'text', (c) => c.primaryKey())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('support_group', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('opened_by', 'integer', (c) => c.notNull())
    .addColumn('assignee', 'integer')
    .addColumn('last_seq', 'integer', (c) => c.notNull())
    .addColumn('rating', 'integer')
    .addColumn('opened_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('first_response_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('tickets_opened_by_idx').on('tickets').columns(['opened_by', 'updated_at']).execute();
  await db.schema.createIndex('tickets_queue_idx').on('tickets').columns(['status', 'assignee', 'opened_at']).execute();
  await db.schema.createIndex('tickets_updated_idx').on('tickets').column('updated_at').execute();

  await db.schema
    .createTable('ticket_messages')
    .addColumn('ticket_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('author', 'integer', (c) => c.notNull())
    .addColumn('author_role', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('client_message_id', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('ticket_messages_pkey', ['ticket_id', 'seq'])
    .execute();
}

export async function down(): Promise<void> {
  // read models are rebuilt, never migrated down
}
