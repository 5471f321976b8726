import { EventEmitter } from 'node:events';
import pg from 'pg';
import { type GroupCommitOptions, createGroupCommit } from './group-commit.ts';
import { type Notifier, createNotifier } from '../db/notifier.ts';
import {
  type AppendReport,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type Position,
  type ReadStreamOptions,
  type RecordedEvent,
  type Subscription,
  type SubscriptionHandlers,
  START,
  WrongExpectedVersion,
} from './port.ts';

const CHANNEL = 'keyledger_events';

interface EventRow {
  global_position: string;
  commit_text: string;
  stream_id: string;
  stream_revision: string;
  event_id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

// Aliased apart from `transaction_id`: ORDER BY would otherwise sort by the text form.
const COLUMNS = 'global_position, transaction_id::text AS commit_text, stream_id, stream_revision, event_id, type, data, metadata';

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    stream: row.stream_id,
    revision: BigInt(row.stream_revision),
    position: { commit: BigInt(row.commit_text), prepare: BigInt(row.global_position) },
    type: row.type,
    data: row.data,
    metadata: row.metadata,
  };
}

/** A subscription's read: the events, and whether newer commits wait behind an open transaction. */
interface Page {
  readonly events: RecordedEvent[];
  readonly pending: boolean;
}

// START (-1/-1) sorts before every real (xid8, sequence) pair; xid8 cannot be negative.
const positionArgs = (p: Position): [string, string] => [p.commit < 0n ? '0' : p.commit.toString(), p.prepare.toString()];

/** The Postgres event log, plus a way for another thread's appends to wake its readers at once. */
export interface PostgresEventStore extends EventStore {
  /** something was appended elsewhere in this process (e.g. by the main thread) */
  poke(): void;
  /** the wake-ups its LISTEN connection got: read for (`heard`), or echoes of what this process heard in-process */
  wakeUps(): { heard: number; echoes: number };
}

export interface PostgresEventStoreOptions {
  /** called after every append that wrote events (to wake readers in other threads) */
  readonly onAppend?: () => void;
  /** how long an idle subscription waits before polling when no notification arrives */
  readonly idlePollMs?: number;
  readonly batchSize?: number;
  readonly groupCommit?: GroupCommitOptions;
  /** the LISTEN connection's settings (name, timeouts); defaults to the pool's connection string */
  readonly listenerConfig?: pg.ClientConfig;
  /** sends the wake-up for other nodes (default: a notifier of its own on `pool`) */
  readonly notifier?: Notifier;
  /**
   * This store's name on the wake-up channel, sent with its appends' NOTIFY; and the names whose
   * wake-ups its readers hear in-process already (its own, and for the projector's thread its
   * node's): those coming back through LISTEN are not read for again. Without it every
   * wake-up is heard, echoes included.
   */
  readonly wakeTag?: { readonly own: string; readonly heardInProcess?: readonly string[] };
}

/**
 * The Postgres event log (DESIGN §3). Appends are one call of `kl_append`; readers follow the
 * xmin rule so no event is ever skipped, and wake on an in-process signal or a coalesced
 * `NOTIFY` sent after the append committed (never inside the append, which would serialise
 * every commit on the notification queue lock).
 */
export function createPostgresEventStore(pool: pg.Pool, options: PostgresEventStoreOptions = {}): PostgresEventStore {
  const idlePollMs = options.idlePollMs ?? 1_000;
  const defaultBatch = options.batchSize ?? 500;
  const wake = new EventEmitter();
  wake.setMaxListeners(0);
  // Counts wake-ups, so a reader that was busy when one came does not then sleep through it.
  let appendSignals = 0;
  wake.on('append', () => {
    appendSignals += 1;
  });
  let closed = false;
  const notifier = options.notifier ?? createNotifier(pool);
  const wakeUps = { heard: 0, echoes: 0 };
  const ownTag = options.wakeTag?.own ?? '';
  const heardInProcess = new Set(options.wakeTag ? [options.wakeTag.own, ...(options.wakeTag.heardInProcess ?? [])] : []);

  function announceAppend(): void {
    wake.emit('append');
    options.onAppend?.();
    if (closed) return;
    // This node's readers hear of it at once; the other nodes' by a NOTIFY that travels with
    // whatever else this node notifies in the same turn of the event loop (the support message).
    notifier.notify(CHANNEL, ownTag).catch(() => {});
  }

  // One LISTEN connection per store, shared by its subscriptions; reconnects with backoff.
  let listener: pg.Client | undefined;
  let listenerUsers = 0;
  let listenerRetry: NodeJS.Timeout | undefined;
  let listenerUp = false;
  async function connectListener(delay = 100): Promise<void> {
    if (closed || listenerUsers === 0 || listener) return;
    const client = new pg.Client(options.listenerConfig ?? { connectionString: poolConnectionString(pool), application_name: 'keyledger-events' });
    listener = client;
    const fail = () => {
      if (listener !== client) return;
      listener = undefined;
      listenerUp = false;
      client.end().catch(() => {});
      if (closed || listenerUsers === 0) return;
      listenerRetry = setTimeout(() => void connectListener(Math.min(delay * 2, 5_000)), delay);
    };
    client.on('error', fail);
    client.on('end', fail);
    client.on('notification', (message) => {
      // an echo of an append this process's readers were woken for already
      if (message.payload && heardInProcess.has(message.payload)) {
        wakeUps.echoes += 1;
        return;
      }
      wakeUps.heard += 1;
      wake.emit('append');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      listenerUp = true;
      wake.emit('append'); // something may have been appended while we were away
    } catch {
      fail();
    }
  }
  function releaseListener(): void {
    listenerUsers -= 1;
    if (listenerUsers > 0) return;
    clearTimeout(listenerRetry);
    const client = listener;
    listener = undefined;
    listenerUp = false;
    client?.end().catch(() => {});
  }

  /** The readable events after `from` (a rebuild's pages): a subscription's page without its flag. */
  async function readAll(from: Position, limit: number): Promise<RecordedEvent[]> {
    return (await readPage(from, limit)).events;
  }

  /**
   * A subscription's page: the events readable after `from` (the xmin rule), and whether more are
   * committed but not yet readable because an older transaction is still open (`pending`: the
   * newest visible event is at or past the snapshot's xmin). One statement, one snapshot, one
   * round trip. `pending` is asked as a backward scan of the primary key that stops at its first
   * visible row, never as `EXISTS (… WHERE transaction_id >= xmin)`: the planner may answer that
   * with a sequential scan of the whole log (it did under load: 2–5 ms a call, growing with the
   * log, most of Postgres's CPU in bench:support).
   */
  async function readPage(from: Position, limit: number): Promise<Page> {
    const [commit, prepare] = positionArgs(from);
    // Named: each connection parses it once (planning was most of the old query's server time).
    const { rows } = await pool.query<{ pending: boolean } & Partial<EventRow>>({
      name: 'kl_read_page',
      text: `SELECT p.pending, e.* FROM
               (SELECT coalesce((SELECT transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
                                   FROM events ORDER BY transaction_id DESC, global_position DESC LIMIT 1), false) AS pending) AS p
               LEFT JOIN LATERAL (
                 SELECT ${COLUMNS} FROM events
                  WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
                    AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                  ORDER BY transaction_id, global_position
                  LIMIT $3) AS e ON true`,
      values: [commit, prepare, limit],
    });
    const events = rows.filter((row) => row.global_position !== null && row.global_position !== undefined).map((row) => toRecorded(row as EventRow));
    return { events, pending: rows[0]?.pending ?? false };
  }

  /**
   * Subscriptions at the same position share one page (the projector's lanes, woken by the same
   * append, ask for the same page together). A page is shared only with callers that heard no
   * append signal after it was asked for, so none of them can miss what that append wrote.
   */
  const sharedPages = new Map<string, Promise<Page>>();
  function sharedPage(from: Position, limit: number, signals: number): Promise<Page> {
    const key = `${signals}:${from.commit}:${from.prepare}:${limit}`;
    let page = sharedPages.get(key);
    if (!page) {
      page = readPage(from, limit);
      sharedPages.set(key, page);
      const forget = () => sharedPages.delete(key);
      page.then(forget, forget);
    }
    return page;
  }

  // Two identical appends racing need no retry: kl_append skips stored ids and reports the loser as a duplicate.
  const groupCommit = createGroupCommit(pool, announceAppend, options.groupCommit);
  const appendReports = new EventEmitter<{ append: [AppendReport] }>();

  const store: PostgresEventStore = {
    kind: 'postgres',
    poke: () => wake.emit('append'),
    wakeUps: () => ({ ...wakeUps }),

    appendReports,

    async append(stream, events, { expectedRevision }): Promise<AppendResult> {
      if (events.length === 0) throw new Error('append needs at least one event');
      const started = performance.now();
      const report = (outcome: AppendReport['outcome'], group: number) =>
        appendReports.emit('append', { stream, events: events.length, outcome, ms: performance.now() - started, group });
      try {
        const { result, group } = await groupCommit.append(stream, events, expectedRevision);
        report(result.duplicate ? 'duplicate' : 'appended', group);
        return result;
      } catch (error) {
        report(error instanceof WrongExpectedVersion ? 'conflict' : 'failed', 1);
        throw error;
      }
    },

    async readStream(stream, opts: ReadStreamOptions = {}) {
      const params: unknown[] = [stream, (opts.fromRevision ?? 0n).toString()];
      let cutoff = '';
      if (opts.toPosition) {
        params.push(...positionArgs(opts.toPosition));
        cutoff = 'AND (transaction_id, global_position) <= ($3::text::xid8, $4::bigint)';
      }
      const { rows } = await pool.query<EventRow>(
        `SELECT ${COLUMNS} FROM events WHERE stream_id = $1 AND stream_revision >= $2 ${cutoff} ORDER BY stream_revision`,
        params,
      );
      return rows.map(toRecorded);
    },

    readAll,

    subscribeAll(from: Position, handlers: SubscriptionHandlers): Subscription {
      let position = from;
      let running = true;
      let sleeper: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
      const sleep = (ms: number) =>
        new Promise<void>((resolve) => {
          // stopped while a batch was handled: no sleep (stop found no sleeper to wake)
          if (!running) return resolve();
          const done = () => {
            clearTimeout(timer);
            wake.off('append', done);
            sleeper = undefined;
            resolve();
          };
          const timer = setTimeout(done, ms);
          wake.on('append', done);
          sleeper = { timer, resolve: done };
        });

      listenerUsers += 1;
      void connectListener();

      const loop = (async () => {
        let backoff = 100;
        while (running) {
          try {
            const signalsBefore = appendSignals;
            const { events, pending } = await sharedPage(position, defaultBatch, signalsBefore);
            if (!running) break;
            if (events.length > 0) {
              await handlers.onEvents(events);
              position = events[events.length - 1]!.position;
              backoff = 100;
            }
            // A full page: there may be more. Otherwise everything readable in the page's snapshot
            // is handled; what was appended since has signalled, and what commits later will.
            if (events.length === defaultBatch || appendSignals !== signalsBefore) continue;
            // Idle, or a newer commit waits behind an older open transaction (then look again soon).
            await sleep(pending ? 5 : listenerUp ? idlePollMs : Math.min(idlePollMs, 250));
          } catch (error) {
            if (!running) break;
            handlers.onError?.(error);
            await sleep(backoff);
            backoff = Math.min(backoff * 2, 5_000);
          }
        }
      })();

      return {
        async stop() {
          if (!running) return;
          running = false;
          sleeper?.resolve();
          await loop;
          releaseListener();
        },
      };
    },

    async headPosition() {
      const { rows } = await pool.query<{ commit_text: string; global_position: string }>(
        `SELECT transaction_id::text AS commit_text, global_position FROM events
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
      );
      const row = rows[0];
      return row ? { commit: BigInt(row.commit_text), prepare: BigInt(row.global_position) } : START;
    },

    async close() {
      closed = true;
      clearTimeout(listenerRetry);
      await listener?.end().catch(() => {});
      listener = undefined;
    },
  };
  return store;
}

function poolConnectionString(pool: pg.Pool): string {
  const cs = (pool.options as { connectionString?: string }).connectionString;
  if (!cs) throw new Error('the event store needs a pool built from a connection string');
  return cs;
}

export type { NewEvent };
