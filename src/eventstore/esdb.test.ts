import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  ANY,
  BACKWARDS,
  END,
  NO_STREAM,
  START as ESDB_START,
  STREAM_EXISTS,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import type {
  AllStreamRecordedEvent,
  AllStreamResolvedEvent,
  AppendResult as EsdbAppendResult,
  AppendToStreamOptions,
  EventData,
  Position as EsdbPosition,
  ReadAllOptions,
  ReadStreamOptions as EsdbReadStreamOptions,
  SubscribeToAllOptions,
} from '@eventstore/db-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type EsdbClient, type EsdbSubscription, createEsdbEventStore } from './esdb.ts';
import { type EventMetadata, type NewEvent, type RecordedEvent, START, WrongExpectedVersion } from './port.ts';

const meta: EventMetadata = {
  actor: 'user-1',
  correlationId: 'corr',
  causationId: 'cause',
  requestId: 'req',
  ip: '127.0.0.1',
  userAgent: null,
  at: '2024-01-01T00:00:00.000Z',
};

const newEvent = (type = 'Thing', data: unknown = { ok: true }): NewEvent => ({ id: randomUUID(), type, data, metadata: meta });

/** The $all position the stubs give an event with sequence number `n`. */
const pos = (n: number): EsdbPosition => ({ commit: BigInt(n) * 100n, prepare: BigInt(n) * 100n - 7n });

interface RecOptions {
  id?: string;
  type?: string;
  isJson?: boolean;
  metadata?: unknown;
  position?: EsdbPosition | undefined;
}

function rec(stream: string, revision: bigint, n: number, o: RecOptions = {}): AllStreamRecordedEvent {
  return {
    streamId: stream,
    id: o.id ?? randomUUID(),
    isJson: o.isJson ?? true,
    revision,
    type: o.type ?? 'Thing',
    created: new Date(0),
    data: { n },
    metadata: 'metadata' in o ? o.metadata : meta,
    position: 'position' in o ? o.position : pos(n),
  } as unknown as AllStreamRecordedEvent;
}

function iterate<T>(items: readonly T[], error?: Error): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      if (error) throw error;
      yield* items;
    },
  };
}

class StubSubscription extends Readable implements EsdbSubscription {
  readonly unsubscribe = vi.fn(async () => {});
  constructor() {
    super({ objectMode: true, read() {} });
  }
  emitEvents(...events: AllStreamRecordedEvent[]): void {
    for (const event of events) this.push({ event } satisfies AllStreamResolvedEvent);
  }
}

/** A client stub: streams held in memory for readStream/appendToStream, canned pages for readAll. */
function stubClient() {
  const streams = new Map<string, AllStreamRecordedEvent[]>();
  let sequence = 1000;
  const subscriptions: StubSubscription[] = [];
  const client = {
    streams,
    subscriptions,
    readAllPages: [] as AllStreamRecordedEvent[][],
    appendReply: undefined as ((stream: string, events: EventData[]) => EsdbAppendResult) | undefined,
    appendToStream: vi.fn(async (stream: string, events: EventData[], options: AppendToStreamOptions): Promise<EsdbAppendResult> => {
      if (client.appendReply) return client.appendReply(stream, events);
      const list = streams.get(stream) ?? [];
      // the server's revision check
      const current = list.length === 0 ? NO_STREAM : BigInt(list.length - 1);
      const expected = options.expectedRevision ?? ANY;
      const ok = expected === ANY || (expected === NO_STREAM ? list.length === 0 : expected === STREAM_EXISTS ? list.length > 0 : expected === current);
      if (!ok) throw new WrongExpectedVersionError(undefined, { streamName: stream, expected, current });
      streams.set(stream, list);
      for (const e of events) list.push(rec(stream, BigInt(list.length), ++sequence, { id: e.id, type: e.type }));
      return { success: true, nextExpectedRevision: BigInt(list.length - 1), position: pos(sequence) };
    }),
    readStream: vi.fn((stream: string, o: EsdbReadStreamOptions) => {
      const events = streams.get(stream);
      if (!events) return iterate([], new StreamNotFoundError(undefined, stream));
      const backwards = o.direction === BACKWARDS;
      let list = backwards ? [...events].reverse() : [...events];
      const from = o.fromRevision;
      if (typeof from === 'bigint') list = list.filter((e) => (backwards ? e.revision <= from : e.revision >= from));
      return iterate(list.slice(0, Number(o.maxCount ?? Number.MAX_SAFE_INTEGER)).map((event) => ({ event })));
    }),
    readAll: vi.fn((_o: ReadAllOptions) => iterate((client.readAllPages.shift() ?? []).map((event) => ({ event })))),
    subscribeToAll: vi.fn((_o: SubscribeToAllOptions): EsdbSubscription => {
      const s = new StubSubscription();
      subscriptions.push(s);
      return s;
    }),
    dispose: vi.fn(async () => {}),
  };
  const typed: EsdbClient = client;
  void typed;
  return client;
}

function setup(retry = { initialDelayMs: 20, maxDelayMs: 1_000 }, wait?: (ms: number, signal: AbortSignal) => Promise<void>) {
  const client = stubClient();
  const logger = { warn: vi.fn((_obj: object, _msg: string) => {}) };
  const store = createEsdbEventStore('esdb://unused:2113?tls=false', { client, logger, retry, ...(wait ? { wait } : {}) });
  return { client, logger, store };
}

/** Polls until `check` passes; the timeout is only a safety net (the stubs answer in microseconds). */
const eventually = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 1 });

/** A backoff the test ends by hand: it records each wait and lets it run only when released. */
function heldBackoff() {
  const waits: { ms: number; release: () => void }[] = [];
  const wait = (ms: number) => new Promise<void>((release) => waits.push({ ms, release }));
  return { waits, wait };
}

describe('EventStoreDB adapter: append', () => {
  it.each([
    ['no_stream' as const, NO_STREAM],
    ['stream_exists' as const, STREAM_EXISTS],
    ['any' as const, ANY],
    [4n, 4n],
  ])('maps expected revision %s to the client value', async (expected, clientValue) => {
    const { client, store } = setup();
    if (expected !== 'no_stream') {
      // an existing stream of five unrelated events
      client.streams.set('s', Array.from({ length: 5 }, (_, i) => rec('s', BigInt(i), i + 1)));
    }
    const events = [newEvent('A', { a: 1 }), newEvent('B', { b: 2 })];
    const result = await store.append('s', events, { expectedRevision: expected });

    expect(client.appendToStream).toHaveBeenCalledTimes(1);
    const [stream, sent, options] = client.appendToStream.mock.calls[0]!;
    expect(stream).toBe('s');
    expect(options.expectedRevision).toBe(clientValue);
    expect(sent).toEqual(
      events.map((e) => ({ id: e.id, contentType: 'application/json', type: e.type, data: e.data, metadata: e.metadata })),
    );
    const stored = client.streams.get('s')!;
    expect(result).toEqual({ nextRevision: stored.at(-1)!.revision, position: pos(1002), duplicate: false });
  });

  it('reports the position of the last appended event as a stream read gives it, not the reply position', async () => {
    const { client, store } = setup();
    client.appendReply = (stream, events) => {
      const list = events.map((e, i) => rec(stream, BigInt(i), 50 + i, { id: e.id }));
      client.streams.set(stream, list);
      return { success: true, nextExpectedRevision: 1n, position: pos(50) }; // first event's position
    };
    const result = await store.append('s', [newEvent(), newEvent()], { expectedRevision: 'no_stream' });
    expect(result.position).toEqual(pos(51));
    expect(client.readStream).toHaveBeenLastCalledWith('s', expect.objectContaining({ fromRevision: 1n, maxCount: 1 }));
  });

  it('when one event is appended, then the reply gives its revision and position: one round trip', async () => {
    const { client, store } = setup();
    client.appendReply = () => ({ success: true, nextExpectedRevision: 7n, position: pos(77) });
    const result = await store.append('s', [newEvent()], { expectedRevision: 6n });
    expect(result).toEqual({ nextRevision: 7n, position: pos(77), duplicate: false });
    expect(client.appendToStream).toHaveBeenCalledTimes(1);
    expect(client.readStream).not.toHaveBeenCalled();
  });

  it('maps WrongExpectedVersionError to WrongExpectedVersion with the actual revision', async () => {
    const { client, store } = setup();
    client.appendToStream.mockRejectedValueOnce(
      new WrongExpectedVersionError(undefined, { streamName: 's', expected: 1n, current: 3n }),
    );
    const error = await store.append('s', [newEvent()], { expectedRevision: 1n }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WrongExpectedVersion);
    expect(error).toMatchObject({ stream: 's', expected: 1n, actual: 3n });
  });

  it('maps the client "no stream" actual revision to undefined', async () => {
    const { client, store } = setup();
    client.appendToStream.mockRejectedValueOnce(
      new WrongExpectedVersionError(undefined, { streamName: 's', expected: STREAM_EXISTS, current: NO_STREAM }),
    );
    const error = await store.append('s', [newEvent()], { expectedRevision: 'stream_exists' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WrongExpectedVersion);
    expect(error).toMatchObject({ expected: 'stream_exists', actual: undefined });

    // throwOnAppendFailure=false form: success false, -1 for no stream
    client.appendToStream.mockResolvedValueOnce({ success: false, nextExpectedRevision: -1n, position: undefined });
    const second = await store.append('s', [newEvent()], { expectedRevision: 'stream_exists' }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(WrongExpectedVersion);
    expect((second as WrongExpectedVersion).actual).toBeUndefined();
  });

  it('lets other client errors through', async () => {
    const { client, store } = setup();
    const boom = new UnavailableError();
    client.appendToStream.mockRejectedValueOnce(boom);
    await expect(store.append('s', [newEvent()], { expectedRevision: 'any' })).rejects.toBe(boom);
  });

  it('when a retry finds its event ids already after the expected revision, then it reports a duplicate and writes nothing', async () => {
    const { client, store } = setup();
    const events = [newEvent('A'), newEvent('B')];
    const first = await store.append('s', events, { expectedRevision: 'no_stream' });
    expect(first.duplicate).toBe(false);

    // the server refuses the retry's revision; its events are where it would have left them
    const retry = await store.append('s', events, { expectedRevision: 'no_stream' });
    expect(retry).toEqual({ nextRevision: first.nextRevision, position: first.position, duplicate: true });

    const third = [newEvent('C')];
    const c = await store.append('s', third, { expectedRevision: 1n });
    await store.append('s', [newEvent('D')], { expectedRevision: 'any' });
    expect(await store.append('s', third, { expectedRevision: 1n })).toEqual({ ...c, duplicate: true });
    expect(client.streams.get('s')!.map((e) => e.type)).toEqual(['A', 'B', 'C', 'D']);
  });

  it('when the revision is refused and the ids are not stored there, then it is a conflict', async () => {
    const { store } = setup();
    await store.append('s', [newEvent('A')], { expectedRevision: 'no_stream' });
    const error = await store.append('s', [newEvent('B')], { expectedRevision: 'no_stream' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'WrongExpectedVersion', actual: 0n });
  });

  it('when only some ids match or they sit elsewhere, then it appends', async () => {
    const { client, store } = setup();
    const a = newEvent('A');
    await store.append('s', [a], { expectedRevision: 'no_stream' });
    // exact revision 0: a retry would sit at revision 1, not 0
    await store.append('s', [a], { expectedRevision: 0n });
    // first id matches, the second does not
    await store.append('s', [a, newEvent('B')], { expectedRevision: 'any' });
    expect(client.appendToStream).toHaveBeenCalledTimes(3);
  });

  it('refuses an empty append', async () => {
    const { client, store } = setup();
    await expect(store.append('s', [], { expectedRevision: 'any' })).rejects.toThrow(/at least one event/);
    expect(client.appendToStream).not.toHaveBeenCalled();
  });
});

describe('EventStoreDB adapter: readStream', () => {
  it('maps recorded events, reads from a revision and drops events after toPosition', async () => {
    const { client, store } = setup();
    const ids: string[] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    client.streams.set('s', [
      rec('s', 0n, 1, { id: ids[0] }),
      // metadata as raw JSON bytes is parsed too
      rec('s', 1n, 3, { id: ids[1], metadata: new TextEncoder().encode(JSON.stringify(meta)) }),
      rec('s', 2n, 5, { id: ids[2], type: '$metadata' }),
      rec('s', 3n, 7, { id: ids[3], isJson: false }),
      rec('s', 4n, 9),
    ]);

    const all = await store.readStream('s');
    expect(all[0]).toEqual({
      id: ids[0]!,
      stream: 's',
      revision: 0n,
      position: { commit: 100n, prepare: 93n },
      type: 'Thing',
      data: { n: 1 },
      metadata: meta,
    } satisfies RecordedEvent);
    expect(all.map((e) => e.revision)).toEqual([0n, 1n, 4n]);
    expect(all[1]!.metadata).toEqual(meta);

    expect((await store.readStream('s', { toPosition: pos(3) })).map((e) => e.revision)).toEqual([0n, 1n]);
    // a position between two events keeps only the earlier ones
    expect((await store.readStream('s', { toPosition: { commit: 299n, prepare: 999n } })).map((e) => e.revision)).toEqual([0n]);
    expect((await store.readStream('s', { fromRevision: 1n })).map((e) => e.revision)).toEqual([1n, 4n]);
    expect(client.readStream).toHaveBeenLastCalledWith('s', expect.objectContaining({ fromRevision: 1n }));
    await store.readStream('s');
    expect(client.readStream).toHaveBeenLastCalledWith('s', expect.objectContaining({ fromRevision: ESDB_START }));
  });

  it('reads an unknown stream as empty', async () => {
    const { client, store } = setup();
    expect(await store.readStream('missing')).toEqual([]);
    expect(client.readStream).toHaveBeenCalledWith('missing', expect.anything());
  });

  it('fails clearly when the server gives no position on stream reads', async () => {
    const { client, store } = setup();
    client.streams.set('s', [rec('s', 0n, 1, { position: undefined })]);
    await expect(store.readStream('s')).rejects.toThrow(/no \$all position/);
    client.streams.set('t', [rec('t', 0n, 1, { position: { commit: 2n ** 64n - 1n, prepare: 2n ** 64n - 1n } })]);
    await expect(store.readStream('t')).rejects.toThrow(/22\.6/);
  });

  it('skips events without Keyledger metadata, with a warning', async () => {
    const { client, logger, store } = setup();
    client.streams.set('s', [rec('s', 0n, 1, { metadata: undefined }), rec('s', 1n, 2, { metadata: { actor: 'x' } }), rec('s', 2n, 3)]);
    expect((await store.readStream('s')).map((e) => e.revision)).toEqual([2n]);
    expect(logger.warn).toHaveBeenCalledTimes(1);
  });
});

describe('EventStoreDB adapter: readAll', () => {
  it('reads strictly after `from`, without system events, and fills the page past skipped ones', async () => {
    const { client, store } = setup();
    const from = pos(10);
    client.readAllPages.push(
      [rec('a', 0n, 10), rec('$stats-x', 0n, 11), rec('b', 0n, 12, { type: '$>' }), rec('c', 0n, 13)],
      [rec('c', 0n, 13), rec('d', 0n, 14), rec('e', 0n, 15)],
    );
    const page = await store.readAll(from, 3);
    expect(page.map((e) => e.position)).toEqual([pos(13), pos(14), pos(15)]);
    expect(client.readAll.mock.calls.map(([o]) => o)).toEqual([
      { fromPosition: from, direction: 'forwards', maxCount: 4 },
      { fromPosition: pos(13), direction: 'forwards', maxCount: 3 },
    ]);
  });

  it('maps START to the client START and stops at the end of $all', async () => {
    const { client, store } = setup();
    client.readAllPages.push([rec('a', 0n, 1), rec('$settings', 0n, 2)]);
    const page = await store.readAll(START, 10);
    expect(page.map((e) => e.stream)).toEqual(['a']);
    expect(client.readAll).toHaveBeenCalledTimes(1);
    expect(client.readAll.mock.calls[0]![0]).toMatchObject({ fromPosition: ESDB_START, maxCount: 11 });
  });

  it('returns at most `limit` events', async () => {
    const { client, store } = setup();
    client.readAllPages.push([rec('a', 0n, 1), rec('a', 1n, 2), rec('a', 2n, 3)]);
    expect((await store.readAll(START, 2)).map((e) => e.revision)).toEqual([0n, 1n]);
  });
});

describe('EventStoreDB adapter: headPosition and close', () => {
  it('is the newest non-system event, reading backwards', async () => {
    const { client, store } = setup();
    client.readAllPages.push([rec('$stats-1', 5n, 9), rec('$$s', 0n, 8, { type: '$metadata' }), rec('s', 3n, 7), rec('s', 2n, 6)]);
    expect(await store.headPosition()).toEqual(pos(7));
    expect(client.readAll.mock.calls[0]![0]).toMatchObject({ fromPosition: END, direction: BACKWARDS, maxCount: expect.any(Number) });
  });

  it('pages backwards past a full page of system events', async () => {
    const { client, store } = setup();
    const system = Array.from({ length: 64 }, (_, i) => rec('$stats-1', BigInt(i), 200 - i));
    client.readAllPages.push(system, [system.at(-1)!, rec('s', 0n, 100)]);
    expect(await store.headPosition()).toEqual(pos(100));
    expect(client.readAll.mock.calls[1]![0]).toMatchObject({ fromPosition: pos(137), direction: BACKWARDS });
  });

  it('is START when $all holds only system events', async () => {
    const { client, store } = setup();
    client.readAllPages.push([rec('$stats-1', 0n, 2), rec('$settings', 0n, 1)]);
    expect(await store.headPosition()).toEqual(START);
  });

  it('close stops subscriptions and disposes the client', async () => {
    const { client, store } = setup();
    store.subscribeAll(START, { onEvents: async () => {} });
    await eventually(() => expect(client.subscriptions).toHaveLength(1));
    await store.close();
    expect(client.subscriptions[0]!.unsubscribe).toHaveBeenCalled();
    expect(client.dispose).toHaveBeenCalledTimes(1);
  });
});

describe('EventStoreDB adapter: subscribeAll', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()));
  });

  function subscribe(client: ReturnType<typeof stubClient>, store: ReturnType<typeof setup>['store'], from = START, fail?: (batch: readonly RecordedEvent[], call: number) => boolean) {
    const delivered: RecordedEvent[] = [];
    const batches: number[] = [];
    const errors: unknown[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let calls = 0;
    const subscription = store.subscribeAll(from, {
      async onEvents(batch) {
        calls++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setImmediate(r)); // a turn of the event loop: an overlapping delivery would start now
        inFlight--;
        if (fail?.(batch, calls)) throw new Error('handler failed');
        delivered.push(...batch);
        batches.push(batch.length);
      },
      onError: (e) => errors.push(e),
    });
    stops.push(() => subscription.stop());
    return { subscription, delivered, batches, errors, maxInFlight: () => maxInFlight, subscribeCalls: () => client.subscribeToAll.mock.calls.map(([o]) => o) };
  }

  it('subscribes from the position with the system-event filter and delivers batches one at a time, in order', async () => {
    const { client, store } = setup();
    const s = subscribe(client, store, pos(1));
    await eventually(() => expect(client.subscriptions).toHaveLength(1));
    expect(s.subscribeCalls()[0]).toMatchObject({ fromPosition: pos(1), filter: { filterOn: 'eventType', regex: '^[^$].*' } });

    const events = Array.from({ length: 6 }, (_, i) => rec(`s${i}`, 0n, i + 2));
    client.subscriptions[0]!.emitEvents(...events.slice(0, 3));
    client.subscriptions[0]!.push({ commitPosition: 100n }); // a message without an event
    client.subscriptions[0]!.emitEvents(...events.slice(3));
    await eventually(() => expect(s.delivered).toHaveLength(6));
    expect(s.delivered.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(s.maxInFlight()).toBe(1);
    expect(s.batches.length).toBeLessThan(6); // buffered events arrive together
  });

  it('after an error, resubscribes from the last delivered position with backoff, without duplicates', async () => {
    const backoff = heldBackoff();
    const { client, logger, store } = setup(undefined, backoff.wait);
    const s = subscribe(client, store);
    await eventually(() => expect(client.subscriptions).toHaveLength(1));
    const [e1, e2, e3, e4] = [rec('a', 0n, 1), rec('a', 1n, 2), rec('b', 0n, 3), rec('b', 1n, 4)];
    client.subscriptions[0]!.emitEvents(e1, e2);
    await eventually(() => expect(s.delivered).toHaveLength(2));

    /** the subscription is waiting out its backoff: it has not resubscribed; then the wait ends */
    const backoffThenResubscribe = async (waits: number, subscriptions: number) => {
      await eventually(() => expect(backoff.waits).toHaveLength(waits));
      expect(client.subscriptions).toHaveLength(subscriptions - 1);
      backoff.waits[waits - 1]!.release();
      await eventually(() => expect(client.subscriptions).toHaveLength(subscriptions));
    };

    const dropped = new UnavailableError();
    client.subscriptions[0]!.destroy(dropped);
    await backoffThenResubscribe(1, 2);
    expect(s.subscribeCalls()[0]!.fromPosition).toBe(ESDB_START);
    expect(s.subscribeCalls()[1]!.fromPosition).toEqual(pos(2));
    expect(s.errors).toEqual([dropped]);
    expect(client.subscriptions[0]!.unsubscribe).toHaveBeenCalled();

    // the server resends the resume event: it is not delivered twice; then the stream ends
    client.subscriptions[1]!.emitEvents(e2);
    client.subscriptions[1]!.push(null);
    await backoffThenResubscribe(2, 3);
    expect(s.subscribeCalls()[2]!.fromPosition).toEqual(pos(2));

    client.subscriptions[2]!.destroy(new UnavailableError());
    await backoffThenResubscribe(3, 4);
    client.subscriptions[3]!.emitEvents(e2, e3, e4);
    await eventually(() => expect(s.delivered).toHaveLength(4));
    client.subscriptions[3]!.destroy(new UnavailableError());
    await backoffThenResubscribe(4, 5);
    expect(s.subscribeCalls()[4]!.fromPosition).toEqual(pos(4));

    expect(s.delivered.map((e) => e.id)).toEqual([e1, e2, e3, e4].map((e) => e.id));
    // 20 ms doubling while nothing is delivered, back to 20 ms after a delivered batch
    expect(backoff.waits.map((w) => w.ms)).toEqual([20, 40, 80, 20]);
    expect(logger.warn.mock.calls.map(([obj]) => (obj as { delayMs: number }).delayMs)).toEqual([20, 40, 80, 20]);
    expect(s.errors).toHaveLength(4);
  });

  it('caps the backoff', async () => {
    const { client, logger, store } = setup({ initialDelayMs: 5, maxDelayMs: 12 });
    subscribe(client, store);
    for (let i = 1; i <= 4; i++) {
      await eventually(() => expect(client.subscriptions).toHaveLength(i));
      client.subscriptions[i - 1]!.destroy(new UnavailableError());
    }
    await eventually(() => expect(client.subscriptions).toHaveLength(5));
    expect(logger.warn.mock.calls.map(([obj]) => (obj as { delayMs: number }).delayMs)).toEqual([5, 10, 12, 12]);
  });

  it('when onEvents throws, re-delivers from the last handled position', async () => {
    const { client, store } = setup();
    const s = subscribe(client, store, START, (batch, call) => call === 2 && batch.length > 0);
    await eventually(() => expect(client.subscriptions).toHaveLength(1));
    const [e1, e2] = [rec('a', 0n, 1), rec('a', 1n, 2)];
    client.subscriptions[0]!.emitEvents(e1);
    await eventually(() => expect(s.delivered).toHaveLength(1));
    client.subscriptions[0]!.emitEvents(e2);
    await eventually(() => expect(client.subscriptions).toHaveLength(2));
    expect(s.errors).toEqual([expect.objectContaining({ message: 'handler failed' })]);
    expect(s.subscribeCalls()[1]!.fromPosition).toEqual(pos(1));
    client.subscriptions[1]!.emitEvents(e2);
    await eventually(() => expect(s.delivered).toHaveLength(2));
    expect(s.delivered.map((e) => e.id)).toEqual([e1.id, e2.id]);
  });

  it('stop() ends the subscription and delivers nothing more', async () => {
    // a backoff that ends at once: a subscription that did not really stop would resubscribe
    // within a few turns of the event loop, before the sentinel below gets through
    const { client, store } = setup(undefined, async () => {});
    const s = subscribe(client, store);
    await eventually(() => expect(client.subscriptions).toHaveLength(1));
    client.subscriptions[0]!.emitEvents(rec('a', 0n, 1));
    await eventually(() => expect(s.delivered).toHaveLength(1));
    await s.subscription.stop();
    expect(client.subscriptions[0]!.unsubscribe).toHaveBeenCalled();
    expect(client.subscriptions[0]!.destroyed).toBe(true);
    client.subscriptions[0]!.emitEvents(rec('a', 1n, 2));
    // A sentinel: a second subscription of the same store, given an event after that one. By the
    // time it is delivered there, the stopped subscription would have delivered its own.
    const sentinel = subscribe(client, store, pos(1));
    await eventually(() => expect(client.subscriptions).toHaveLength(2));
    client.subscriptions[1]!.emitEvents(rec('a', 2n, 3));
    await eventually(() => expect(sentinel.delivered).toHaveLength(1));
    expect(s.delivered).toHaveLength(1);
    expect(client.subscriptions).toHaveLength(2);
    expect(s.errors).toEqual([]);
  });

  it('stop() during the backoff wait returns without waiting it out, and does not resubscribe', async () => {
    // an hour's backoff, with the real timer: only the test's timeout bounds stop() otherwise
    const { client, store } = setup({ initialDelayMs: 3_600_000, maxDelayMs: 3_600_000 });
    const s = subscribe(client, store);
    await eventually(() => expect(client.subscriptions).toHaveLength(1));
    client.subscriptions[0]!.destroy(new UnavailableError());
    await eventually(() => expect(s.errors).toHaveLength(1));
    await s.subscription.stop();
    expect(client.subscriptions).toHaveLength(1);
  });

  it('stop() ends the backoff wait even when the wait ignores its abort signal', async () => {
    const backoff = heldBackoff();
    const { client, store } = setup(undefined, backoff.wait);
    const s = subscribe(client, store);
    await eventually(() => expect(client.subscriptions).toHaveLength(1));
    client.subscriptions[0]!.destroy(new UnavailableError());
    await eventually(() => expect(backoff.waits).toHaveLength(1));
    await s.subscription.stop(); // the held wait is never released
    expect(client.subscriptions).toHaveLength(1);
  });

  it('stop() called from inside onEvents does not wait for itself', async () => {
    const { client, store } = setup();
    let stopped = false;
    const subscription = store.subscribeAll(START, {
      async onEvents() {
        await subscription.stop();
        stopped = true;
      },
    });
    await eventually(() => expect(client.subscriptions).toHaveLength(1));
    client.subscriptions[0]!.emitEvents(rec('a', 0n, 1), rec('a', 1n, 2));
    await eventually(() => expect(stopped).toBe(true));
    await subscription.stop();
    expect(client.subscriptions).toHaveLength(1);
  });
});
