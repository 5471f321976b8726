import { type Kysely, sql } from 'kysely';

/**
 * Plan rate limits across nodes: each (client, window) has one row counting the requests the
 * nodes together leased from the plan's budget. A node leases a share with `kl_rate_lease`
 * (never more than the window has left), spends it locally without a round trip, and gives back
 * what it did not use with `kl_rate_return`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE rate_limit_leases (
      client_id text NOT NULL,
      window_start timestamptz NOT NULL,
      granted integer NOT NULL CHECK (granted >= 0),
      PRIMARY KEY (client_id, window_start)
    )`.execute(db);
  await sql`CREATE INDEX rate_limit_leases_window_idx ON rate_limit_leases (window_start)`.execute(db);
  await sql`
    CREATE FUNCTION kl_rate_lease(p_client text, p_window timestamptz, p_limit integer, p_want integer) RETURNS integer
    LANGUAGE plpgsql AS $$
    DECLARE
      v_granted integer;
      v_give integer;
    BEGIN
      INSERT INTO rate_limit_leases (client_id, window_start, granted) VALUES (p_client, p_window, 0)
        ON CONFLICT (client_id, window_start) DO NOTHING;
      SELECT granted INTO v_granted FROM rate_limit_leases WHERE client_id = p_client AND window_start = p_window FOR UPDATE;
      v_give := LEAST(p_want, GREATEST(0, p_limit - v_granted));
      IF v_give > 0 THEN
        UPDATE rate_limit_leases SET granted = granted + v_give WHERE client_id = p_client AND window_start = p_window;
      END IF;
      RETURN v_give;
    END $$`.execute(db);
  await sql`
    CREATE FUNCTION kl_rate_return(p_client text, p_window timestamptz, p_unused integer) RETURNS void
    LANGUAGE sql AS $$
      UPDATE rate_limit_leases SET granted = GREATEST(0, granted - p_unused) WHERE client_id = p_client AND window_start = p_window
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION kl_rate_return(text, timestamptz, integer)`.execute(db);
  await sql`DROP FUNCTION kl_rate_lease(text, timestamptz, integer, integer)`.execute(db);
  await db.schema.dropTable('rate_limit_leases').execute();
}
