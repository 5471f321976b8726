import { type Kysely, sql } from 'kysely';

/**
 * The agent desk (src/support/desk.ts, issue 12): private notes, tags, priority, rating comments
 * and the opener's language on tickets; canned answers, capacities and business hours from the
 * desk's stream. Run through `withSchema(target)`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('ticket_messages').addColumn('private', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
  await db.schema
    .alterTable('tickets')
    .addColumn('tags', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('priority', 'text', (c) => c.notNull().defaultTo('normal'))
    .addColumn('rating_comment', 'text')
    .addColumn('rated_at', 'timestamptz')
    .addColumn('language', 'text', (c) => c.notNull().defaultTo('en'))
    .addColumn('offline', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema.createIndex('tickets_assignee_idx').on('tickets').columns(['assignee', 'status']).execute();
  await db.schema.createIndex('tickets_client_idx').on('tickets').column('client_id').execute();

  await db.schema
    .createTable('support_canned')
    .addColumn('canned_id', 'text', (c) => c.primaryKey())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('text_en', 'text', (c) => c.notNull())
    .addColumn('text_nl', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('support_agents')
    .addColumn('sub', 'integer', (c) => c.primaryKey())
    .addColumn('capacity', 'integer', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('support_hours')
    .addColumn('support_group', 'text', (c) => c.primaryKey())
    .addColumn('time_zone', 'text', (c) => c.notNull())
    .addColumn('intervals', 'jsonb', (c) => c.notNull())
    .execute();
}

export async function down(): Promise<void> {
  // read models are rebuilt, never migrated down
}
