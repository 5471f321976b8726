import { type Kysely, sql } from 'kysely';

/**
 * Where each agent's latest assignment stands in the event log, written by the assignment itself
 * under the agent's lock (src/support/assignee-lock.ts). The next assignment to that agent, on
 * any node, waits until the read models have reached it before it counts the agent's tickets:
 * it no longer waits for the projector to reach the head of the whole log, and the lock is no
 * longer held while an assignment is projected.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE support_assignment_marks (
      sub integer PRIMARY KEY,
      commit_position numeric(20, 0) NOT NULL,
      prepare_position numeric(20, 0) NOT NULL
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('support_assignment_marks').execute();
}
