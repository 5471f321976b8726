import { type Kysely, sql } from 'kysely';

const LANES = ['policy', 'audit', 'support'] as const;

/**
 * One checkpoint per projection group (projections/index.ts) instead of one for every read
 * model: each lane starts where the single checkpoint was. The audit group gets its own
 * client → organisation map, so it reads no other group's tables; it starts from `clients`,
 * which was projected up to the same checkpoint. Run through `withSchema(target)`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_client_organisations')
    .addColumn('client_id', 'text', (c) => c.primaryKey())
    .addColumn('organisation_id', 'text', (c) => c.notNull())
    .execute();
  await db
    .insertInto('audit_client_organisations')
    .columns(['client_id', 'organisation_id'])
    .expression(db.selectFrom('clients').select(['client_id', 'organisation_id']))
    .execute();
  for (const lane of LANES) {
    await db
      .insertInto('checkpoints')
      .columns(['projection', 'commit_position', 'prepare_position'])
      .expression(
        db
          .selectFrom('checkpoints')
          .select([sql.lit(lane).as('projection'), 'commit_position', 'prepare_position'])
          .where('projection', '=', 'read_models'),
      )
      .onConflict((oc) => oc.column('projection').doNothing())
      .execute();
  }
  await db.deleteFrom('checkpoints').where('projection', '=', 'read_models').execute();
}

export async function down(): Promise<void> {
  // read models are rebuilt, never migrated down
}
