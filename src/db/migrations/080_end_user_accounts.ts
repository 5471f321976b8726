import { type Kysely, sql } from 'kysely';

/**
 * End-user accounts (issue #10): people who sign in through partners need no organisation; their
 * profile, uploaded picture, social profiles and one-time links (email verification, password
 * reset: only the SHA-256 of the link's token is stored) are ordinary rows that go with the user
 * (ON DELETE CASCADE), so deleting an account erases them. Profile columns are added only when
 * missing: another branch may define the same shape.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users ALTER COLUMN organisation_id DROP NOT NULL`.execute(db);
  await sql`ALTER TABLE users ADD COLUMN IF NOT EXISTS gender text`.execute(db);
  await sql`ALTER TABLE users ADD COLUMN IF NOT EXISTS second_email text`.execute(db);
  await sql`ALTER TABLE users ADD COLUMN IF NOT EXISTS preferred_language text`.execute(db);

  await sql`CREATE TABLE IF NOT EXISTS user_socials (
    user_sub integer NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    position integer NOT NULL,
    platform text NOT NULL,
    username text NOT NULL,
    url text,
    PRIMARY KEY (user_sub, position)
  )`.execute(db);

  await db.schema
    .createTable('user_pictures')
    .addColumn('picture_id', 'text', (c) => c.primaryKey())
    .addColumn('user_sub', 'integer', (c) => c.notNull().unique().references('users.sub').onDelete('cascade'))
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('data', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('account_links')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_sub', 'integer', (c) => c.notNull().references('users.sub').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull().check(sql`purpose IN ('verify_email', 'reset_password')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('account_links_user_idx').on('account_links').columns(['user_sub', 'purpose']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('account_links').execute();
  await db.schema.dropTable('user_pictures').execute();
}
