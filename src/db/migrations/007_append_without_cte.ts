import { type Kysely, sql } from 'kysely';

/**
 * kl_append, third version: as 006, without a CTE around the insert (row count from GET
 * DIAGNOSTICS, last position from the identity sequence).
 *
 * (006's notes follow.) kl_append, second version: the same contract as 001's, with less work on the common path.
 * - The duplicate check no longer runs before every append: the insert skips stored event ids
 *   (ON CONFLICT DO NOTHING) and counts what it wrote; all skipped = an idempotent retry, some
 *   skipped = an error that aborts the whole append. Only a failed revision check looks for a
 *   retry before reporting the conflict.
 * - The last position comes from the insert itself, not from a sequence lookup.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION kl_append(
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

export async function down(): Promise<void> {
  // 006's version is restored by re-running 006; not needed in practice.
}
