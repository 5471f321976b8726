import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Kysely, Migrator, sql } from 'kysely';
import { CORE_MIGRATIONS, StaticProvider, type Database, openDatabase } from '../src/db/database.ts';
import { createTestDatabase } from './support/database.ts';

let database: Database;
beforeAll(async () => {
  database = openDatabase(await createTestDatabase(), { max: 2 });
});
afterAll(async () => {
  await database?.destroy();
});

describe('migration 040: addresses in XWMS shape', () => {
  it('carries existing addresses over: label → name, company → company_name, the recipient split into firstname/lastname, numeric ids', async () => {
    const db = database.db as unknown as Kysely<unknown>;
    const migrator = new Migrator({ db, provider: new StaticProvider(CORE_MIGRATIONS) });
    const down = await migrator.migrateTo('011_staff_revision');
    expect(down.error).toBeUndefined();

    const { rows } = await sql<{ sub: number }>`
      INSERT INTO users (email, name, password_hash, organisation_id) VALUES ('old@example.com', 'Old', 'x', 'org_1') RETURNING sub`.execute(db);
    const sub = rows[0]!.sub;
    const old = (id: string, name: string, label: string | null, company: string | null, isDefault: boolean) => sql`
      INSERT INTO addresses (address_id, user_sub, label, name, company, street, city, country, is_default, created_at, updated_at)
      VALUES (${id}, ${sub}, ${label}, ${name}, ${company}, 'Damrak', 'Amsterdam', 'NL', ${isDefault}, now(), now())`.execute(db);
    await old('adr_a', 'Vincent van Gogh', 'Studio', 'Atelier BV', true);
    await old('adr_b', 'Rembrandt', null, null, false);

    const up = await migrator.migrateToLatest();
    expect(up.error).toBeUndefined();
    const migrated = await database.db
      .selectFrom('addresses')
      .select(['id', 'name', 'firstname', 'lastname', 'company_name', 'is_default', 'street'])
      .where('user_sub', '=', sub)
      .orderBy('id')
      .execute();
    expect(migrated).toEqual([
      { id: expect.any(Number), name: 'Studio', firstname: 'Vincent', lastname: 'van Gogh', company_name: 'Atelier BV', is_default: true, street: 'Damrak' },
      { id: expect.any(Number), name: null, firstname: 'Rembrandt', lastname: null, company_name: null, is_default: false, street: 'Damrak' },
    ]);
    // new rows get the next id
    const next = await database.db
      .insertInto('addresses')
      .values({ user_sub: sub, street: 'Dam', city: 'Amsterdam', country: 'NL', created_at: new Date(), updated_at: new Date() })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(next.id).toBeGreaterThan(migrated[1]!.id);
  });
});
