import type { Kysely } from 'kysely';

/**
 * The public directory (`GET /api/global/projects`), from `ClientListingChanged`. A client taken
 * out keeps its row (listed = false) so its `project_id` and first publication stay when it comes
 * back. Run through `withSchema(target)`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('client_listings')
    .addColumn('client_id', 'text', (c) => c.primaryKey())
    /** the global position of the event that first listed it: numeric, stable across rebuilds */
    .addColumn('project_id', 'bigint', (c) => c.notNull().unique())
    .addColumn('listed', 'boolean', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('categories', 'jsonb', (c) => c.notNull())
    .addColumn('image', 'text')
    .addColumn('direct_redirect', 'boolean', (c) => c.notNull())
    .addColumn('published_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('client_listings_listed_idx').on('client_listings').columns(['listed', 'published_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('client_listings').execute();
}
