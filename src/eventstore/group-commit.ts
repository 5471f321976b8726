import type pg from 'pg';
import { type AppendResult, type ExpectedRevision, type NewEvent, WrongExpectedVersion } from './port.ts';

interface Row {
  out_index?: number;
  out_status: number;
  out_revision: string | null;
  out_commit: string | null;
  out_position: string | null;
}

interface Pending {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  readonly expected: ExpectedRevision;
  readonly resolve: (outcome: { result: AppendResult; group: number }) => void;
  readonly reject: (error: unknown) => void;
}

function expectedArgs(expected: ExpectedRevision): [mode: number, revision: string | null] {
  if (typeof expected === 'bigint') return [0, expected.toString()];
  return [{ no_stream: 1, stream_exists: 2, any: 3 }[expected], null];
}

export interface GroupCommitOptions {
  /** group commits (transactions) under way at once; more appends wait and go together (default 3) */
  readonly maxInFlight?: number;
  /** appends in one group commit at most (default 200) */
  readonly maxGroup?: number;
}

/**
 * Group commit for the Postgres event log. An append goes out at once while fewer than
 * `maxInFlight` commits are under way; past that, appends queue and the next free slot takes
 * them all in one `kl_append_many` call — one round trip, one transaction, one WAL flush —
 * each with its own revision check and outcome. Idle, an append costs what it did alone; busy,
 * commits are shared. A batch that fails as a whole (a value Postgres refuses) is retried
 * append by append, so only the faulty one fails.
 */
export function createGroupCommit(pool: pg.Pool, onWritten: () => void, options: GroupCommitOptions = {}) {
  const maxInFlight = options.maxInFlight ?? 3;
  const maxGroup = options.maxGroup ?? 200;
  const queue: Pending[] = [];
  let inFlight = 0;

  function outcome(p: Pending, row: Row, group: number): void {
    switch (row.out_status) {
      case 0:
      case 1:
        p.resolve({
          result: {
            nextRevision: BigInt(row.out_revision!),
            position: { commit: BigInt(row.out_commit!), prepare: BigInt(row.out_position!) },
            duplicate: row.out_status === 1,
          },
          group,
        });
        return;
      case 2:
        p.reject(new WrongExpectedVersion(p.stream, p.expected, row.out_revision === null ? undefined : BigInt(row.out_revision)));
        return;
      default:
        p.reject(new Error(`append to ${p.stream}: some event ids are already stored and some are not (a reused id?)`));
    }
  }

  async function one(p: Pending, group: number): Promise<boolean> {
    const [mode, expected] = expectedArgs(p.expected);
    try {
      // A named statement: parsed and planned once per connection.
      const { rows } = await pool.query<Row>({
        name: 'kl_append',
        text: 'SELECT * FROM kl_append($1, $2, $3, $4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[])',
        values: [
          p.stream,
          mode,
          expected,
          p.events.map((e) => e.id),
          p.events.map((e) => e.type),
          p.events.map((e) => JSON.stringify(e.data)),
          p.events.map((e) => JSON.stringify(e.metadata)),
        ],
      });
      outcome(p, rows[0]!, group);
      return rows[0]!.out_status === 0;
    } catch (error) {
      p.reject(error);
      return false;
    }
  }

  async function many(group: readonly Pending[]): Promise<boolean> {
    const streams: string[] = [];
    const modes: number[] = [];
    const expected: (string | null)[] = [];
    const counts: number[] = [];
    const ids: string[] = [];
    const types: string[] = [];
    const data: string[] = [];
    const metadata: string[] = [];
    for (const p of group) {
      const [mode, revision] = expectedArgs(p.expected);
      streams.push(p.stream);
      modes.push(mode);
      expected.push(revision);
      counts.push(p.events.length);
      for (const e of p.events) {
        ids.push(e.id);
        types.push(e.type);
        data.push(JSON.stringify(e.data));
        metadata.push(JSON.stringify(e.metadata));
      }
    }
    let rows: Row[];
    try {
      ({ rows } = await pool.query<Row>({
        name: 'kl_append_many',
        text: 'SELECT * FROM kl_append_many($1::text[], $2::smallint[], $3::bigint[], $4::int[], $5::uuid[], $6::text[], $7::jsonb[], $8::jsonb[])',
        values: [streams, modes, expected, counts, ids, types, data, metadata],
      }));
    } catch {
      // One bad value fails the whole call: alone, each append gets its own answer.
      const written = await Promise.all(group.map((p) => one(p, 1)));
      return written.some(Boolean);
    }
    for (const row of rows) outcome(group[row.out_index! - 1]!, row, group.length);
    return rows.some((r) => r.out_status === 0);
  }

  function pump(): void {
    while (inFlight < maxInFlight && queue.length > 0) {
      const group = queue.splice(0, maxGroup);
      inFlight += 1;
      void (group.length === 1 ? one(group[0]!, 1) : many(group)).then((written) => {
        inFlight -= 1;
        if (written) onWritten();
        pump();
      });
    }
  }

  return {
    append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<{ result: AppendResult; group: number }> {
      return new Promise((resolve, reject) => {
        queue.push({ stream, events, expected, resolve, reject });
        pump();
      });
    },
  };
}
