import { type Kysely, sql } from 'kysely';

/**
 * The Postgres event log. Readers take only rows whose writing transaction is older than
 * every transaction still running (`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`)
 * and order by (transaction_id, global_position): a later sequence number committed before an
 * earlier one can then never be skipped.
 *
 * `kl_append` does the whole append in one round trip. It takes a per-stream advisory lock
 * before its first write, so the transaction id (assigned at the first write) of a later
 * append to the same stream is always greater: per-stream order and global order agree.
 * Stored event ids are not looked up on the common path: the insert skips them (ON CONFLICT DO
 * NOTHING) and counts what it wrote — all skipped is an idempotent retry, some skipped aborts
 * the append. Only a failed revision check looks for a retry before reporting the conflict.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE events (
      global_position bigint GENERATED ALWAYS AS IDENTITY,
      transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
      stream_id text NOT NULL,
      stream_revision bigint NOT NULL,
      event_id uuid NOT NULL,
      type text NOT NULL,
      data jsonb NOT NULL,
      metadata jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (transaction_id, global_position),
      CONSTRAINT events_event_id_key UNIQUE (event_id),
      CONSTRAINT events_stream_revision_key UNIQUE (stream_id, stream_revision)
    )`.execute(db);

  await sql`
    CREATE FUNCTION kl_append(
      p_stream text, p_mode smallint, p_expected bigint,
      p_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[]
    ) RETURNS TABLE (out_status smallint, out_revision bigint, out_commit text, out_position bigint)
    LANGUAGE plpgsql AS $$
    -- p_mode: 0 exact revision, 1 no_stream, 2 stream_exists, 3 any
    -- status: 0 appended, 1 duplicate (every id already stored), 2 wrong expected revision
    --         (revision = actual, null when no stream), 3 some ids stored, some not
    DECLARE
      v_current bigint;
      v_count int := cardinality(p_ids);
      v_written int;
    BEGIN
      -- Before the first write: the transaction id, assigned at that write, then orders this
      -- append after every earlier one to the same stream.
      PERFORM pg_advisory_xact_lock(1262, hashtext(p_stream));
      SELECT max(e.stream_revision) INTO v_current FROM events e WHERE e.stream_id = p_stream;
      IF (p_mode = 0 AND v_current IS DISTINCT FROM p_expected)
         OR (p_mode = 1 AND v_current IS NOT NULL)
         OR (p_mode = 2 AND v_current IS NULL) THEN
        -- A retry of an append that was stored finds its own events: report it as a duplicate.
        IF (SELECT count(*) FROM events WHERE event_id = ANY (p_ids) AND stream_id = p_stream) = v_count THEN
          RETURN QUERY SELECT 1::smallint, e.stream_revision, e.transaction_id::text, e.global_position
            FROM events e WHERE e.event_id = ANY (p_ids) ORDER BY e.stream_revision DESC LIMIT 1;
        ELSIF EXISTS (SELECT 1 FROM events WHERE event_id = ANY (p_ids)) THEN
          RETURN QUERY SELECT 3::smallint, NULL::bigint, NULL::text, NULL::bigint;
        ELSE
          RETURN QUERY SELECT 2::smallint, v_current, NULL::text, NULL::bigint;
        END IF;
        RETURN;
      END IF;
      INSERT INTO events (stream_id, stream_revision, event_id, type, data, metadata)
        SELECT p_stream, coalesce(v_current, -1) + u.ord, u.id, u.t, u.d, u.m
        FROM unnest(p_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS u(id, t, d, m, ord)
      ON CONFLICT (event_id) DO NOTHING;
      GET DIAGNOSTICS v_written = ROW_COUNT;
      IF v_written = v_count THEN
        -- the rows were numbered in order within this statement: the last one has the sequence's current value
        RETURN QUERY SELECT 0::smallint, coalesce(v_current, -1) + v_count, pg_current_xact_id()::text,
          currval('events_global_position_seq'::regclass);
      ELSIF v_written = 0 AND (SELECT count(*) FROM events WHERE event_id = ANY (p_ids) AND stream_id = p_stream) = v_count THEN
        RETURN QUERY SELECT 1::smallint, e.stream_revision, e.transaction_id::text, e.global_position
          FROM events e WHERE e.event_id = ANY (p_ids) ORDER BY e.stream_revision DESC LIMIT 1;
      ELSE
        -- some ids were stored already: write nothing
        RAISE EXCEPTION 'append to %: some event ids are already stored and some are not', p_stream
          USING ERRCODE = 'unique_violation', CONSTRAINT = 'kl_append_partial_duplicate';
      END IF;
    END $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION kl_append`.execute(db);
  await sql`DROP TABLE events`.execute(db);
}
