import type pg from 'pg';
import type { Position } from '../eventstore/port.ts';

/** Advisory lock namespace of assignee locks (1262 is the event log's and the projector's). */
export const ASSIGNEE_LOCK_CLASS = 1263;

/** What the holder of an agent's lock learns and leaves: where the agent's latest assignment stands. */
export interface AssignmentMark {
  /** the log position of the latest assignment to this agent (any node), null if none was marked */
  readonly last: Position | null;
  /** this holder's assignment: written with the lock's release, for the next holder to wait for */
  record(position: Position): void;
  /** the rows of the statement asked to run alongside the lock (in its round trip), if any */
  readonly alongside?: readonly Record<string, unknown>[];
}

/**
 * `alongside`: one more statement (parameters written in) for the lock's round trip, read after
 * the mark — what the holder would ask first, without a round trip of its own.
 */
export type AssigneeLock = <T>(sub: number, work: (mark: AssignmentMark) => Promise<T>, alongside?: string) => Promise<T>;

/**
 * One assignment to an agent at a time, on every node: `work` (capacity check and append) runs
 * inside a transaction holding `pg_advisory_xact_lock(1263, sub)`, so a second assignment to the
 * same agent reads a load that includes the first. Capacity is a limit across tickets' streams;
 * the lock makes it exact without a stream per agent.
 *
 * The holder does not wait for its assignment to be projected. It leaves its position in
 * `support_assignment_marks` (written with the COMMIT that ends the lock, one round trip), and
 * the next holder, which reads the mark with the lock (one round trip), waits until the read
 * models have reached it before counting — usually long done. A holder thus keeps the lock for
 * three round trips, not for two waits on the projector.
 *
 * The lock is held on `pool`, a small pool of its own, so holders never take the connections the
 * append needs. On this node, assignments to one agent queue in memory first, so waiters for one
 * busy agent hold no connection at all.
 */
export function createAssigneeLock(pool: pg.Pool): AssigneeLock {
  const queues = new Map<number, Promise<unknown>>();
  return async (sub, work, alongside) => {
    const previous = queues.get(sub) ?? Promise.resolve();
    const current = previous.then(
      () => locked(pool, sub, work, alongside),
      () => locked(pool, sub, work, alongside),
    );
    const tail = current.catch(() => {});
    queues.set(sub, tail);
    void tail.then(() => {
      if (queues.get(sub) === tail) queues.delete(sub);
    });
    return await current;
  };
}

async function locked<T>(pool: pg.Pool, sub: number, work: (mark: AssignmentMark) => Promise<T>, alongside?: string): Promise<T> {
  if (!Number.isSafeInteger(sub)) throw new Error(`an assignee is a user number, not ${String(sub)}`);
  const client = await pool.connect();
  let last: Position | null = null;
  let rows: Record<string, unknown>[] | undefined;
  try {
    // One round trip: the key is an integer of ours, written in. The transaction writes only the
    // mark, a hint for the next holder that the assignment's own (durable) append backs: its
    // COMMIT need not wait for the disk.
    const results = (await client.query(
      `BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_advisory_xact_lock(${ASSIGNEE_LOCK_CLASS}, ${sub});
       SELECT commit_position::text AS commit, prepare_position::text AS prepare FROM support_assignment_marks WHERE sub = ${sub}${alongside ? `;\n${alongside}` : ''}`,
    )) as unknown as pg.QueryResult<Record<string, unknown>>[];
    const row = results[3]?.rows[0] as { commit: string; prepare: string } | undefined;
    if (row) last = { commit: BigInt(row.commit), prepare: BigInt(row.prepare) };
    if (alongside) rows = results[4]?.rows;
  } catch (error) {
    // its transaction state is unknown: the connection is dropped, not handed on
    client.release(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
  let recorded: Position | undefined;
  try {
    return await work({
      last,
      record: (position) => {
        recorded = position;
      },
      ...(rows ? { alongside: rows } : {}),
    });
  } finally {
    // The mark (positions are integers of ours, written in) and the COMMIT that ends the lock go
    // together. Should it fail, dropping the connection ends the session, and the lock with it;
    // the assignment is stored regardless, and only its mark is lost.
    const mark = recorded
      ? `INSERT INTO support_assignment_marks (sub, commit_position, prepare_position) VALUES (${sub}, ${recorded.commit}, ${recorded.prepare})
           ON CONFLICT (sub) DO UPDATE SET commit_position = excluded.commit_position, prepare_position = excluded.prepare_position; `
      : '';
    await client.query(`${mark}COMMIT`).then(
      () => client.release(),
      (error: unknown) => client.release(error instanceof Error ? error : new Error(String(error))),
    );
  }
}
