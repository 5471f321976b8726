/**
 * The event store port. Two adapters implement it: the Postgres event log
 * (default, embedded) and EventStoreDB. One contract suite (test/eventstore-contract.ts)
 * runs against both.
 */

/**
 * A position in the global order ("$all"). EventStoreDB gives `{commit, prepare}`;
 * the Postgres event log maps `commit` to the writing transaction's xid8 and
 * `prepare` to the global sequence. Both order by (commit, prepare).
 */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export const START: Position = Object.freeze({ commit: -1n, prepare: -1n });

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** JSON form of a position: `"<commit>/<prepare>"` (bigints as strings). */
export function formatPosition(p: Position): string {
  return `${p.commit}/${p.prepare}`;
}

export function parsePosition(text: string): Position | undefined {
  const m = /^(-?\d{1,20})\/(-?\d{1,20})$/.exec(text);
  if (!m) return undefined;
  return { commit: BigInt(m[1]!), prepare: BigInt(m[2]!) };
}

/** Audit metadata carried by every event. Never optional: the audit trail is built from it. */
export interface EventMetadata {
  /** user sub as a string, or `system`, or `cli` */
  readonly actor: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly requestId: string;
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** ISO-8601 time of the decision */
  readonly at: string;
}

export interface NewEvent<T extends string = string, D = unknown> {
  /** Deterministic per command (see `eventIdsFor`), so a retried append is idempotent. */
  readonly id: string;
  readonly type: T;
  readonly data: D;
  readonly metadata: EventMetadata;
}

export interface RecordedEvent<T extends string = string, D = unknown> {
  readonly id: string;
  readonly stream: string;
  /** 0-based revision within the stream */
  readonly revision: bigint;
  readonly position: Position;
  readonly type: T;
  readonly data: D;
  readonly metadata: EventMetadata;
}

export type ExpectedRevision = 'no_stream' | 'stream_exists' | 'any' | bigint;

export interface AppendResult {
  /** revision of the last event now in the stream */
  readonly nextRevision: bigint;
  /** position of the last appended event */
  readonly position: Position;
  /** true when every event id was already stored (an idempotent retry): nothing was written */
  readonly duplicate: boolean;
}

export class WrongExpectedVersion extends Error {
  override readonly name = 'WrongExpectedVersion';
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** actual revision of the stream; `undefined` when the stream does not exist */
    readonly actual: bigint | undefined,
  ) {
    super(
      `stream ${stream}: expected revision ${String(expected)}, actual ${actual === undefined ? 'no stream' : String(actual)}`,
    );
  }
}

export interface ReadStreamOptions {
  readonly fromRevision?: bigint;
  /** only events at or before this global position (time travel, explain) */
  readonly toPosition?: Position;
}

export interface SubscriptionHandlers {
  /** Called in the global order, one batch at a time; the next batch waits for the promise. */
  onEvents(events: readonly RecordedEvent[]): Promise<void>;
  /** A dropped connection; the subscription resubscribes by itself with backoff. */
  onError?(error: unknown): void;
}

export interface Subscription {
  stop(): Promise<void>;
}

/** One finished append, for metrics (append latency and conflicts). */
export interface AppendReport {
  readonly stream: string;
  readonly events: number;
  readonly outcome: 'appended' | 'duplicate' | 'conflict' | 'failed';
  /** from the call to its answer, queueing for a group commit included */
  readonly ms: number;
  /** appends committed together with this one (1 without group commit) */
  readonly group: number;
}

export interface EventStore {
  readonly kind: 'postgres' | 'esdb';
  /** `appendReports.on('append', (report) => …)`: every append's outcome and latency */
  readonly appendReports: import('node:events').EventEmitter<{ append: [AppendReport] }>;
  append(stream: string, events: readonly NewEvent[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult>;
  /** Events of one stream, oldest first. An unknown stream reads as empty. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Up to `limit` events strictly after `from`, in the stable global order. */
  readAll(from: Position, limit: number): Promise<RecordedEvent[]>;
  /** Every event strictly after `from`, then live ones; never skips, never reorders. */
  subscribeAll(from: Position, handlers: SubscriptionHandlers): Subscription;
  /** Position of the newest event (START when empty). */
  headPosition(): Promise<Position>;
  close(): Promise<void>;
}
