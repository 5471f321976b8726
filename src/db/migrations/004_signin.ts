import { type Kysely, sql } from 'kysely';

/**
 * Hosted sign-in and user data: profile fields on users, addresses, sign-in tokens (only their
 * SHA-256 is stored) and the users who signed in through each client. Ordinary rows: a user's
 * data goes with the user (ON DELETE CASCADE).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('given_name', 'text')
    .addColumn('family_name', 'text')
    .addColumn('picture', 'text')
    .addColumn('email_verified', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('birth_date', 'date')
    .addColumn('country', 'text', (c) => c.check(sql`country ~ '^[A-Z]{2}$'`))
    .execute();

  await db.schema
    .createTable('addresses')
    .addColumn('address_id', 'text', (c) => c.primaryKey())
    .addColumn('user_sub', 'integer', (c) => c.notNull().references('users.sub').onDelete('cascade'))
    .addColumn('label', 'text')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('company', 'text')
    .addColumn('street', 'text', (c) => c.notNull())
    .addColumn('house_number', 'text')
    .addColumn('addition', 'text')
    .addColumn('postal_code', 'text')
    .addColumn('city', 'text', (c) => c.notNull())
    .addColumn('state', 'text')
    .addColumn('country', 'text', (c) => c.notNull().check(sql`country ~ '^[A-Z]{2}$'`))
    .addColumn('phone', 'text')
    .addColumn('is_default', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('addresses_user_idx').on('addresses').columns(['user_sub', 'created_at']).execute();
  // At most one default address per user.
  await sql`CREATE UNIQUE INDEX addresses_one_default ON addresses (user_sub) WHERE is_default`.execute(db);

  await db.schema
    .createTable('signin_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('domain_id', 'text', (c) => c.notNull())
    .addColumn('redirect_url', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status IN ('pending', 'approved', 'denied', 'used', 'void')`))
    .addColumn('user_sub', 'integer', (c) => c.references('users.sub').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('approved_at', 'timestamptz')
    .addColumn('used_at', 'timestamptz')
    .execute();
  await sql`CREATE INDEX signin_tokens_open_idx ON signin_tokens (client_id) WHERE status IN ('pending', 'approved')`.execute(db);
  await db.schema.createIndex('signin_tokens_expires_idx').on('signin_tokens').column('expires_at').execute();

  // One server-wide key per purpose, shared by every node (CSRF tokens of the hosted pages).
  await db.schema
    .createTable('server_keys')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('client_users')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('user_sub', 'integer', (c) => c.notNull().references('users.sub').onDelete('cascade'))
    .addColumn('first_signed_in_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_signed_in_at', 'timestamptz', (c) => c.notNull())
    .addColumn('sign_in_count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('client_users_pkey', ['client_id', 'user_sub'])
    .execute();
  await db.schema.createIndex('client_users_user_idx').on('client_users').column('user_sub').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('client_users').execute();
  await db.schema.dropTable('server_keys').execute();
  await db.schema.dropTable('signin_tokens').execute();
  await db.schema.dropTable('addresses').execute();
  await db.schema
    .alterTable('users')
    .dropColumn('given_name')
    .dropColumn('family_name')
    .dropColumn('picture')
    .dropColumn('email_verified')
    .dropColumn('birth_date')
    .dropColumn('country')
    .execute();
}
