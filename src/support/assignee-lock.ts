import type pg from 'pg';

/** Advisory lock namespace of assignee locks (1262 is the event log's and the projector's). */
export const ASSIGNEE_LOCK_CLASS = 1263;

export type AssigneeLock = <T>(sub: number, work: () => Promise<T>) => Promise<T>;

/**
 * One assignment to an agent at a time, on every node: `work` (capacity check, append, waiting
 * for the support lane to project it) runs inside a transaction holding
 * `pg_advisory_xact_lock(1263, sub)`, so a second assignment to the same agent reads a load that
 * includes the first. Capacity is a limit across tickets' streams; the lock makes it exact
 * without a stream per agent.
 *
 * The lock is held on `pool`, a small pool of its own: holders wait for the projector, and
 * must never take the connections the append and the projection need. On this node, assignments
 * to one agent queue in memory first, so waiters for one busy agent hold no connection at all.
 */
export function createAssigneeLock(pool: pg.Pool): AssigneeLock {
  const queues = new Map<number, Promise<unknown>>();
  return async (sub, work) => {
    const previous = queues.get(sub) ?? Promise.resolve();
    const current = previous.then(
      () => locked(pool, sub, work),
      () => locked(pool, sub, work),
    );
    const tail = current.catch(() => {});
    queues.set(sub, tail);
    void tail.then(() => {
      if (queues.get(sub) === tail) queues.delete(sub);
    });
    return await current;
  };
}

async function locked<T>(pool: pg.Pool, sub: number, work: () => Promise<T>): Promise<T> {
  if (!Number.isSafeInteger(sub)) throw new Error(`an assignee is a user number, not ${String(sub)}`);
  const client = await pool.connect();
  try {
    // one round trip: the key is an integer of ours, written in
    await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${ASSIGNEE_LOCK_CLASS}, ${sub})`);
  } catch (error) {
    // its transaction state is unknown: the connection is dropped, not handed on
    client.release(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
  try {
    return await work();
  } finally {
    // Nothing is written in this transaction: it only holds the lock, which COMMIT ends. Should
    // COMMIT fail, dropping the connection ends the session, and the lock with it.
    await client.query('COMMIT').then(
      () => client.release(),
      (error: unknown) => client.release(error instanceof Error ? error : new Error(String(error))),
    );
  }
}
