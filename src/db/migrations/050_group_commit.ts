import { type Kysely, sql } from 'kysely';

/**
 * Group commit: several appends, to several streams, in one call and one transaction, each
 * with its own revision check and its own outcome (a conflict in one leaves the others
 * written). Every stream's lock is taken first, in one order, before the first write: the
 * transaction id (assigned at that write) then orders the batch after every earlier append
 * to any of its streams, as `kl_append` does for one stream, and two batches cannot deadlock.
 * Outcomes as in `kl_append`; "some ids stored, some not" undoes that append's own rows and
 * reports status 3 instead of aborting the others.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION kl_append_many(
      p_streams text[], p_modes smallint[], p_expected bigint[], p_counts int[],
      p_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[]
    ) RETURNS TABLE (out_index int, out_status smallint, out_revision bigint, out_commit text, out_position bigint)
    LANGUAGE plpgsql AS $$
    DECLARE
      v_from int := 1;
      v_to int;
      v_stream text;
      v_mode smallint;
      v_current bigint;
      v_count int;
      v_written int;
      v_ids uuid[];
    BEGIN
      PERFORM pg_advisory_xact_lock(1262, l.h) FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest(p_streams) AS s ORDER BY 1) AS l;
      FOR i IN 1 .. cardinality(p_streams) LOOP
        v_stream := p_streams[i];
        v_mode := p_modes[i];
        v_count := p_counts[i];
        v_to := v_from + v_count - 1;
        v_ids := p_ids[v_from:v_to];
        SELECT max(e.stream_revision) INTO v_current FROM events e WHERE e.stream_id = v_stream;
        IF (v_mode = 0 AND v_current IS DISTINCT FROM p_expected[i])
           OR (v_mode = 1 AND v_current IS NOT NULL)
           OR (v_mode = 2 AND v_current IS NULL) THEN
          IF (SELECT count(*) FROM events WHERE event_id = ANY (v_ids) AND stream_id = v_stream) = v_count THEN
            RETURN QUERY SELECT i, 1::smallint, e.stream_revision, e.transaction_id::text, e.global_position
              FROM events e WHERE e.event_id = ANY (v_ids) ORDER BY e.stream_revision DESC LIMIT 1;
          ELSIF EXISTS (SELECT 1 FROM events WHERE event_id = ANY (v_ids)) THEN
            RETURN QUERY SELECT i, 3::smallint, NULL::bigint, NULL::text, NULL::bigint;
          ELSE
            RETURN QUERY SELECT i, 2::smallint, v_current, NULL::text, NULL::bigint;
          END IF;
        ELSE
          INSERT INTO events (stream_id, stream_revision, event_id, type, data, metadata)
            SELECT v_stream, coalesce(v_current, -1) + u.ord, u.id, u.t, u.d, u.m
            FROM unnest(v_ids, p_types[v_from:v_to], p_data[v_from:v_to], p_metadata[v_from:v_to]) WITH ORDINALITY AS u(id, t, d, m, ord)
          ON CONFLICT (event_id) DO NOTHING;
          GET DIAGNOSTICS v_written = ROW_COUNT;
          IF v_written = v_count THEN
            RETURN QUERY SELECT i, 0::smallint, coalesce(v_current, -1) + v_count, pg_current_xact_id()::text,
              currval('events_global_position_seq'::regclass);
          ELSIF v_written = 0 AND (SELECT count(*) FROM events WHERE event_id = ANY (v_ids) AND stream_id = v_stream) = v_count THEN
            RETURN QUERY SELECT i, 1::smallint, e.stream_revision, e.transaction_id::text, e.global_position
              FROM events e WHERE e.event_id = ANY (v_ids) ORDER BY e.stream_revision DESC LIMIT 1;
          ELSE
            DELETE FROM events e WHERE e.stream_id = v_stream AND e.stream_revision > coalesce(v_current, -1)
              AND e.transaction_id = pg_current_xact_id();
            RETURN QUERY SELECT i, 3::smallint, NULL::bigint, NULL::text, NULL::bigint;
          END IF;
        END IF;
        v_from := v_to + 1;
      END LOOP;
    END $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION kl_append_many`.execute(db);
}
