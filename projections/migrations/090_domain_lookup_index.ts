import type { Kysely } from 'kysely';

/**
 * `client_domains (client_id, domain)` was a unique index. A read model must never refuse what
 * the events say: the client's stream already keeps a client's domain names distinct, and the
 * set-based projector applies a batch's inserts before its updates — so a domain renamed and its
 * old name added again in one batch (or one rebuild page) failed the batch, and the projector
 * retried it for ever. The index stays, for lookups, without the uniqueness. Run through
 * `withSchema(target)`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('client_domains_client_idx').execute();
  await db.schema.createIndex('client_domains_client_idx').on('client_domains').columns(['client_id', 'domain']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('client_domains_client_idx').execute();
  await db.schema.createIndex('client_domains_client_idx').on('client_domains').columns(['client_id', 'domain']).unique().execute();
}
