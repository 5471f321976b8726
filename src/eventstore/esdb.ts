import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  START as ESDB_START,
  STREAM_EXISTS,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  excludeSystemEvents,
  jsonEvent,
} from '@eventstore/db-client';
import type {
  AllStreamResolvedEvent,
  AppendExpectedRevision,
  AppendToStreamOptions,
  AppendResult as EsdbAppendResult,
  CurrentRevision,
  EventData,
  JSONType,
  Position as EsdbPosition,
  ReadAllOptions,
  ReadPosition,
  ReadStreamOptions as EsdbReadStreamOptions,
  RecordedEvent as EsdbRecordedEvent,
  ResolvedEvent,
  SubscribeToAllOptions,
} from '@eventstore/db-client';
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
  comparePositions,
  formatPosition,
} from './port.ts';

/** The subscription object the adapter consumes (the client's `AllStreamSubscription` is one). */
export interface EsdbSubscription extends AsyncIterable<AllStreamResolvedEvent> {
  /** events buffered and readable without waiting (Node `Readable#readableLength`) */
  readonly readableLength: number;
  unsubscribe(): Promise<void>;
  destroy(error?: Error): unknown;
}

/** The few client methods the adapter uses; `EventStoreDBClient` satisfies it, tests pass a stub. */
export interface EsdbClient {
  appendToStream(streamName: string, events: EventData[], options: AppendToStreamOptions): Promise<EsdbAppendResult>;
  readStream(streamName: string, options: EsdbReadStreamOptions): AsyncIterable<ResolvedEvent>;
  readAll(options: ReadAllOptions): AsyncIterable<AllStreamResolvedEvent>;
  subscribeToAll(options: SubscribeToAllOptions): EsdbSubscription;
  dispose(): Promise<void>;
}

export interface EsdbEventStoreOptions {
  readonly logger?: { warn(obj: object, msg: string): void };
  /** an already built client (tests); by default one is built from the connection string */
  readonly client?: EsdbClient;
  /** resubscription backoff: starts at `initialDelayMs`, doubles up to `maxDelayMs`, resets after a handled batch */
  readonly retry?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /**
   * How the backoff waits (default: a timer). Tests pass their own to decide when it ends
   * instead of sleeping; `stop()` ends the wait whether or not this honours `signal`.
   */
  readonly wait?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** most events handed to `onEvents` at once (default 500) */
  readonly batchSize?: number;
}

/** How far back from the end of a stream an `any`/`stream_exists` retry is looked for. */
const RETRY_LOOKBACK = 64;
/** Events read per page when looking backwards for the head. */
const HEAD_PAGE = 64;
/** ESDB reports "no position" as ulong.MaxValue (or omits it); real positions fit a signed long. */
const MAX_REAL_POSITION = (1n << 63n) - 1n;

const isStart = (p: Position): boolean => p.commit < 0n || comparePositions(p, START) === 0;
const toReadPosition = (p: Position): ReadPosition => (isStart(p) ? ESDB_START : { commit: p.commit, prepare: p.prepare });

function realPosition(p: EsdbPosition | undefined): Position | undefined {
  if (!p) return undefined;
  if (p.commit < 0n || p.prepare < 0n || p.commit > MAX_REAL_POSITION || p.prepare > MAX_REAL_POSITION) return undefined;
  return { commit: p.commit, prepare: p.prepare };
}

function toEsdbExpected(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    case 'any':
      return ANY;
    default:
      return expected;
  }
}

/** The client says "no stream" as `no_stream` (or -1 when `throwOnAppendFailure` is off). */
function actualRevision(current: CurrentRevision | bigint): bigint | undefined {
  if (typeof current !== 'bigint' || current < 0n) return undefined;
  return current;
}

const isSystem = (e: { streamId: string; type: string }): boolean => e.type.startsWith('$') || e.streamId.startsWith('$');

const NULLABLE = (v: unknown): v is string | null | undefined => v === null || v === undefined || typeof v === 'string';

function toMetadata(raw: unknown): EventMetadata | undefined {
  let value = raw;
  try {
    if (value instanceof Uint8Array) value = JSON.parse(Buffer.from(value).toString('utf8'));
    else if (typeof value === 'string') value = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const m = value as Record<string, unknown>;
  for (const key of ['actor', 'correlationId', 'causationId', 'requestId', 'at'] as const) {
    if (typeof m[key] !== 'string') return undefined;
  }
  if (!NULLABLE(m.ip) || !NULLABLE(m.userAgent)) return undefined;
  return { ...(m as unknown as EventMetadata), ip: (m.ip as string | null | undefined) ?? null, userAgent: (m.userAgent as string | null | undefined) ?? null };
}

class MissingPositionError extends Error {
  override readonly name = 'MissingPositionError';
  constructor(stream: string, revision: bigint) {
    super(
      `EventStoreDB returned no $all position for ${stream}@${revision}: positions on stream reads need EventStoreDB 22.6 or later ` +
        `(and events not written in explicit transactions)`,
    );
  }
}

/**
 * The EventStoreDB adapter (DESIGN §3). Positions are ESDB's `{commit, prepare}`; system events
 * (types or streams starting with `$`), non-JSON events and events without Keyledger metadata are
 * not Keyledger's and are skipped by every read (a warning is logged for the last kind).
 *
 * Appends are one round trip (a multi-event write reads its last event's position back). The
 * server's id-based idempotency makes a retried append write nothing; `duplicate: true` is
 * reported when the server refuses a retry's revision and its events are found stored where
 * the retry would have left them (from `expectedRevision + 1`, from 0 for `no_stream`, the
 * last `RETRY_LOOKBACK + n` events for `any`/`stream_exists`). A retry the server accepts
 * idempotently reports `duplicate: false`, as it writes nothing either way.
 */
export function createEsdbEventStore(connectionString: string, opts: EsdbEventStoreOptions = {}): EventStore {
  const client: EsdbClient = opts.client ?? EventStoreDBClient.connectionString(connectionString);
  const logger = opts.logger;
  const initialDelay = opts.retry?.initialDelayMs ?? 100;
  const maxDelay = opts.retry?.maxDelayMs ?? 5_000;
  const batchSize = opts.batchSize ?? 500;
  const wait = opts.wait ?? ((ms: number, signal: AbortSignal) => delay(ms, undefined, { signal }).catch(() => {}));
  const active = new Set<Subscription>();

  let skippedForeign = 0;
  function map(e: EsdbRecordedEvent, position: EsdbPosition | undefined): RecordedEvent | undefined {
    if (isSystem(e) || !e.isJson) return undefined;
    const pos = realPosition(position);
    if (!pos) throw new MissingPositionError(e.streamId, e.revision);
    const metadata = toMetadata(e.metadata);
    if (!metadata) {
      if (skippedForeign++ % 1000 === 0) {
        logger?.warn(
          { stream: e.streamId, eventId: e.id, type: e.type, skipped: skippedForeign },
          'EventStoreDB event without Keyledger metadata skipped',
        );
      }
      return undefined;
    }
    return { id: e.id, stream: e.streamId, revision: e.revision, position: pos, type: e.type, data: e.data, metadata };
  }

  /** Keyledger events of one stream; an unknown or deleted stream reads as empty. */
  async function readStreamEvents(stream: string, options: EsdbReadStreamOptions): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    try {
      for await (const resolved of client.readStream(stream, options)) {
        const e = resolved.event;
        if (!e) continue;
        const mapped = map(e, e.position);
        if (mapped) out.push(mapped);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError || error instanceof StreamDeletedError) return [];
      throw error;
    }
    return out;
  }

  /** The stored copy of `events` when a previous append of the same command already wrote them. */
  async function findStored(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<RecordedEvent | undefined> {
    const n = events.length;
    let candidates: RecordedEvent[];
    if (expected === 'no_stream' || typeof expected === 'bigint') {
      const fromRevision = expected === 'no_stream' ? 0n : expected + 1n;
      if (fromRevision < 0n) return undefined;
      candidates = await readStreamEvents(stream, { fromRevision, maxCount: n, direction: FORWARDS });
      if (candidates[0]?.revision !== fromRevision) return undefined;
    } else {
      candidates = (await readStreamEvents(stream, { fromRevision: END, maxCount: n + RETRY_LOOKBACK, direction: BACKWARDS })).reverse();
    }
    for (let i = 0; i + n <= candidates.length; i++) {
      let matches = true;
      for (let j = 0; j < n && matches; j++) {
        const c = candidates[i + j]!;
        matches = c.id === events[j]!.id && c.revision === candidates[i]!.revision + BigInt(j);
      }
      if (matches) return candidates[i + n - 1];
      // with an exact expected revision the retry can only sit right after it
      if (expected === 'no_stream' || typeof expected === 'bigint') return undefined;
    }
    return undefined;
  }

  /** A refused revision may be a retry of a write that went through (the stream moved on since): then it is a duplicate. */
  async function refused(stream: string, events: readonly NewEvent[], expected: ExpectedRevision, actual: bigint | undefined): Promise<AppendResult> {
    const stored = await findStored(stream, events, expected);
    if (stored) return { nextRevision: stored.revision, position: stored.position, duplicate: true };
    throw new WrongExpectedVersion(stream, expected, actual);
  }

  /**
   * One round trip: the append's reply gives the next expected revision and, for a single
   * event, its position. Only a multi-event write reads its last event's position back (the
   * reply names the write's first), and only a refused revision looks for a stored retry.
   */
  async function appendOnce(stream: string, events: readonly NewEvent[], expectedRevision: ExpectedRevision): Promise<AppendResult> {
    let result: EsdbAppendResult;
    try {
      result = await client.appendToStream(
        stream,
        events.map((e) => jsonEvent({ id: e.id, type: e.type, data: e.data as JSONType, metadata: e.metadata })),
        { expectedRevision: toEsdbExpected(expectedRevision) },
      );
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) return await refused(stream, events, expectedRevision, actualRevision(error.actualVersion));
      throw error;
    }
    if (!result.success) return await refused(stream, events, expectedRevision, actualRevision(result.nextExpectedRevision));
    const nextRevision = result.nextExpectedRevision;
    const replied = realPosition(result.position);
    if (events.length === 1 && replied) return { nextRevision, position: replied, duplicate: false };
    const [last] = await readStreamEvents(stream, { fromRevision: nextRevision, maxCount: 1, direction: FORWARDS });
    const position = last?.revision === nextRevision ? last.position : replied;
    if (!position) throw new MissingPositionError(stream, nextRevision);
    return { nextRevision, position, duplicate: false };
  }

  const appendReports = new EventEmitter<{ append: [AppendReport] }>();

  const store: EventStore = {
    kind: 'esdb',

    appendReports,

    async append(stream, events, { expectedRevision }): Promise<AppendResult> {
      if (events.length === 0) throw new Error('append needs at least one event');
      const started = performance.now();
      const report = (outcome: AppendReport['outcome']) =>
        appendReports.emit('append', { stream, events: events.length, outcome, ms: performance.now() - started, group: 1 });
      try {
        const result = await appendOnce(stream, events, expectedRevision);
        report(result.duplicate ? 'duplicate' : 'appended');
        return result;
      } catch (error) {
        report(error instanceof WrongExpectedVersion ? 'conflict' : 'failed');
        throw error;
      }
    },

    async readStream(stream, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
      const events = await readStreamEvents(stream, { fromRevision: options.fromRevision ?? ESDB_START, direction: FORWARDS });
      const to = options.toPosition;
      return to ? events.filter((e) => comparePositions(e.position, to) <= 0) : events;
    },

    async readAll(from, limit): Promise<RecordedEvent[]> {
      const out: RecordedEvent[] = [];
      if (!(limit > 0)) return out;
      let cursor = from;
      for (;;) {
        // fromPosition is inclusive: one more than needed, the event at the cursor is dropped
        const maxCount = limit - out.length + 1;
        let raw = 0;
        let last: Position | undefined;
        for await (const resolved of client.readAll({ fromPosition: toReadPosition(cursor), direction: FORWARDS, maxCount })) {
          raw++;
          const e = resolved.event;
          if (!e) continue;
          const pos = realPosition(e.position);
          if (pos && comparePositions(pos, cursor) <= 0) continue;
          if (pos) last = pos;
          const mapped = map(e, e.position);
          if (mapped && out.length < limit) out.push(mapped);
        }
        if (out.length >= limit || raw < maxCount || !last) return out;
        cursor = last;
      }
    },

    subscribeAll(from, handlers): Subscription {
      const subscription = subscribeAll(from, handlers);
      active.add(subscription);
      return {
        async stop() {
          active.delete(subscription);
          await subscription.stop();
        },
      };
    },

    async headPosition(): Promise<Position> {
      let fromPosition: ReadPosition = END;
      for (;;) {
        let raw = 0;
        let last: Position | undefined;
        let found: Position | undefined;
        for await (const resolved of client.readAll({ fromPosition, direction: BACKWARDS, maxCount: HEAD_PAGE })) {
          raw++;
          const e = resolved.event;
          const pos = realPosition(e?.position);
          if (!e || !pos) continue;
          if (fromPosition !== END && comparePositions(pos, fromPosition) >= 0) continue;
          last = pos;
          if (!found && map(e, e.position)) found = pos;
        }
        if (found) return found;
        if (raw < HEAD_PAGE || !last) return START;
        fromPosition = last;
      }
    },

    async close(): Promise<void> {
      await Promise.all([...active].map((s) => s.stop()));
      active.clear();
      await client.dispose();
    },
  };

  /**
   * A catch-up subscription to `$all` that never skips or repeats: it remembers the position of the
   * last event handled (`cursor`) and, after a dropped connection, an ended stream or a failing
   * `onEvents`, resubscribes from there with exponential backoff. Events at or before the cursor
   * are dropped, so a server that resends the resume event does not duplicate it.
   */
  function subscribeAll(from: Position, handlers: SubscriptionHandlers): Subscription {
    const inHandler = new AsyncLocalStorage<true>();
    let stopped = false;
    let cursor = from;
    let backoff = initialDelay;
    let current: EsdbSubscription | undefined;
    const stopping = new AbortController();
    const stoppedSignal = new Promise<void>((resolve) => stopping.signal.addEventListener('abort', () => resolve(), { once: true }));

    const sleep = (ms: number) => Promise.race([wait(ms, stopping.signal), stoppedSignal]);

    async function release(sub: EsdbSubscription): Promise<void> {
      await sub.unsubscribe().catch(() => {});
      sub.destroy();
    }

    /** One subscription, until it ends (returns) or fails (throws). */
    async function runOnce(): Promise<void> {
      const sub = client.subscribeToAll({ fromPosition: toReadPosition(cursor), filter: excludeSystemEvents() });
      current = sub;
      const iterator = sub[Symbol.asyncIterator]();
      try {
        for (;;) {
          const first = await iterator.next();
          if (first.done || stopped) return;
          const raw = [first.value];
          while (raw.length < batchSize && sub.readableLength > 0) {
            const next = await iterator.next();
            if (next.done) break;
            raw.push(next.value);
          }
          if (stopped) return;
          const batch: RecordedEvent[] = [];
          let last: Position | undefined;
          for (const resolved of raw) {
            const e = resolved.event; // absent for checkpoint-like and unresolved link messages
            const pos = realPosition(e?.position);
            if (!e || !pos || comparePositions(pos, cursor) <= 0) continue;
            last = pos;
            const mapped = map(e, e.position);
            if (mapped) batch.push(mapped);
          }
          if (batch.length > 0) await inHandler.run(true, () => handlers.onEvents(batch));
          if (last) cursor = last;
          if (batch.length > 0) backoff = initialDelay;
          if (stopped) return;
        }
      } finally {
        if (current === sub) current = undefined;
        await release(sub);
      }
    }

    const loop = (async () => {
      while (!stopped) {
        let failure: unknown;
        try {
          await runOnce();
          if (stopped) break;
          failure = new Error('EventStoreDB subscription ended');
        } catch (error) {
          if (stopped) break;
          failure = error;
        }
        try {
          handlers.onError?.(failure);
        } catch {
          // a failing error callback must not end the subscription
        }
        logger?.warn(
          { err: failure, delayMs: backoff, resumeFrom: formatPosition(cursor) },
          'EventStoreDB subscription dropped; resubscribing',
        );
        await sleep(backoff);
        backoff = Math.min(backoff * 2, maxDelay);
      }
    })();

    return {
      async stop() {
        if (!stopped) {
          stopped = true;
          stopping.abort();
          const sub = current;
          if (sub) await release(sub);
        }
        // stop() awaited from inside onEvents would wait for itself: that call only signals
        if (inHandler.getStore()) return;
        await loop;
      },
    };
  }

  return store;
}
