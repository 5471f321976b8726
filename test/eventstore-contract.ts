import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EventStore,
  type NewEvent,
  type Position,
  type RecordedEvent,
  START,
  WrongExpectedVersion,
  comparePositions,
} from '../src/eventstore/port.ts';

/**
 * The contract every EventStore adapter must honour. Each test works in streams with its own
 * random prefix, so the suite also runs against a shared, non-empty EventStoreDB.
 */
export interface ContractHarness {
  /** a store whose idle subscribers poll (if they poll at all) less often than once a minute */
  store: EventStore;
  /** appends that hold their transaction open for `holdMs` (Postgres only) — out-of-order commits */
  appendHoldingTransaction?: (stream: string, event: NewEvent, holdMs: number) => Promise<void>;
  close(): Promise<void>;
}

const meta = { actor: 'system', correlationId: 'c', causationId: 'c', requestId: 'r', ip: null, userAgent: null, at: new Date(0).toISOString() };
export const newEvent = (type: string, data: unknown = {}): NewEvent => ({ id: randomUUID(), type, data, metadata: meta });

async function collect(
  store: EventStore,
  from: Position,
  prefix: string,
  until: (events: RecordedEvent[]) => boolean,
  timeoutMs = 60_000,
): Promise<{ events: RecordedEvent[]; last: Position }> {
  const events: RecordedEvent[] = [];
  let last = from;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const subscription = store.subscribeAll(from, {
    async onEvents(batch) {
      for (const e of batch) {
        last = e.position;
        if (e.stream.startsWith(prefix)) events.push(e);
      }
      if (until(events)) done();
    },
  });
  const timer = setTimeout(done, timeoutMs);
  await finished;
  clearTimeout(timer);
  await subscription.stop();
  return { events, last };
}

async function readAllOf(store: EventStore, prefix: string): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  let from = START;
  for (;;) {
    const page = await store.readAll(from, 1_000);
    if (page.length === 0) return out;
    out.push(...page.filter((e) => e.stream.startsWith(prefix)));
    from = page[page.length - 1]!.position;
  }
}

export function eventStoreContract(name: string, makeHarness: () => Promise<ContractHarness>): void {
  describe(`event store contract: ${name}`, () => {
    let h: ContractHarness;
    let store: EventStore;
    beforeAll(async () => {
      h = await makeHarness();
      store = h.store;
    });
    afterAll(async () => {
      await h?.close();
    });
    const stream = () => `contract${randomUUID().replaceAll('-', '')}-s`;

    describe('expected revision', () => {
      it('when the stream is new, then no_stream appends and revisions start at 0', async () => {
        const s = stream();
        const result = await store.append(s, [newEvent('A'), newEvent('B')], { expectedRevision: 'no_stream' });
        expect(result.nextRevision).toBe(1n);
        expect(result.duplicate).toBe(false);
        const read = await store.readStream(s);
        expect(read.map((e) => [e.type, e.revision])).toEqual([['A', 0n], ['B', 1n]]);
      });

      it('when the stream exists, then no_stream fails with the actual revision', async () => {
        const s = stream();
        await store.append(s, [newEvent('A')], { expectedRevision: 'no_stream' });
        const error = await store.append(s, [newEvent('B')], { expectedRevision: 'no_stream' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedVersion);
        expect((error as WrongExpectedVersion).actual).toBe(0n);
      });

      it('when the stream is missing, then stream_exists fails with no actual revision', async () => {
        const error = await store.append(stream(), [newEvent('A')], { expectedRevision: 'stream_exists' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedVersion);
        expect((error as WrongExpectedVersion).actual).toBeUndefined();
      });

      it('when the revision is exact, then it appends; when stale, then it fails with the actual revision', async () => {
        const s = stream();
        await store.append(s, [newEvent('A'), newEvent('B')], { expectedRevision: 'any' });
        const ok = await store.append(s, [newEvent('C')], { expectedRevision: 1n });
        expect(ok.nextRevision).toBe(2n);
        await store.append(s, [newEvent('D')], { expectedRevision: 'stream_exists' });
        const error = await store.append(s, [newEvent('E')], { expectedRevision: 1n }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedVersion);
        expect((error as WrongExpectedVersion).actual).toBe(3n);
        expect((await store.readStream(s)).map((e) => e.type)).toEqual(['A', 'B', 'C', 'D']);
      });

      it('when two writers race on one exact revision, then exactly one wins', async () => {
        const s = stream();
        await store.append(s, [newEvent('A')], { expectedRevision: 'no_stream' });
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => store.append(s, [newEvent(`W${i}`)], { expectedRevision: 0n })),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(WrongExpectedVersion);
        expect(await store.readStream(s)).toHaveLength(2);
      });
    });

    it('when an append is retried with the same event ids, then nothing is written twice', async () => {
      const s = stream();
      const events = [newEvent('A'), newEvent('B')];
      const first = await store.append(s, events, { expectedRevision: 'no_stream' });
      const retry = await store.append(s, events, { expectedRevision: 'no_stream' });
      expect(retry.nextRevision).toBe(first.nextRevision);
      expect(retry.position).toEqual(first.position);
      const concurrent = await Promise.all([1, 2, 3].map(() => store.append(s, [events[1]!], { expectedRevision: 'any' })));
      for (const r of concurrent) expect(r.nextRevision).toBe(1n);
      expect((await store.readStream(s)).map((e) => e.id)).toEqual(events.map((e) => e.id));
    });

    it('reads a stream from a revision and up to a position', async () => {
      const s = stream();
      const positions: Position[] = [];
      for (const type of ['A', 'B', 'C', 'D']) {
        positions.push((await store.append(s, [newEvent(type)], { expectedRevision: 'any' })).position);
      }
      expect((await store.readStream(s, { fromRevision: 2n })).map((e) => e.type)).toEqual(['C', 'D']);
      expect((await store.readStream(s, { toPosition: positions[1]! })).map((e) => e.type)).toEqual(['A', 'B']);
      expect(await store.readStream(`${stream()}-missing`)).toEqual([]);
      const all = await store.readStream(s);
      expect(all.map((e) => e.position)).toEqual(positions);
      for (let i = 1; i < all.length; i++) expect(comparePositions(all[i - 1]!.position, all[i]!.position)).toBe(-1);
    });

    it('when writers commit concurrently and out of order, then the subscriber gets every event exactly once, in an order that never changes', async () => {
      const prefix = stream();
      const from = await store.headPosition();
      const writers = 8;
      const perWriter = Number(process.env.CONTRACT_EVENTS_PER_WRITER ?? 2_000);
      const total = writers * perWriter;
      const subscriber = collect(store, from, prefix, (events) => events.length >= total, 180_000);

      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < perWriter; i++) {
            const s = `${prefix}-${w}-${i % 25}`;
            const event = newEvent('Counted', { w, i });
            // Some transactions stay open for a random short time, so later sequence numbers commit first.
            if (h.appendHoldingTransaction && i % 4 === 0) await h.appendHoldingTransaction(s, event, Math.random() * 3);
            else await store.append(s, [event], { expectedRevision: 'any' });
          }
        }),
      );

      const { events } = await subscriber;
      expect(events).toHaveLength(total);
      expect(new Set(events.map((e) => e.id)).size).toBe(total);
      for (let i = 1; i < events.length; i++) expect(comparePositions(events[i - 1]!.position, events[i]!.position)).toBe(-1);
      // Per-stream order agrees with the global order.
      const lastRevision = new Map<string, bigint>();
      for (const e of events) {
        expect(e.revision).toBe((lastRevision.get(e.stream) ?? -1n) + 1n);
        lastRevision.set(e.stream, e.revision);
      }
      // Read again, twice: the same order.
      const again = await readAllOf(store, prefix);
      expect(again.map((e) => e.id)).toEqual(events.map((e) => e.id));
      const resumed = await collect(store, from, prefix, (e) => e.length >= total);
      expect(resumed.events.map((e) => e.id)).toEqual(events.map((e) => e.id));
    }, 240_000);

    it('when a subscription restarts from its stored checkpoint, then it continues exactly where it stopped', async () => {
      const prefix = stream();
      const from = await store.headPosition();
      for (let i = 0; i < 5; i++) await store.append(`${prefix}-a`, [newEvent('First', { i })], { expectedRevision: 'any' });
      const first = await collect(store, from, prefix, (e) => e.length >= 5);
      expect(first.events).toHaveLength(5);
      const checkpoint = first.events[4]!.position;

      for (let i = 0; i < 3; i++) await store.append(`${prefix}-b`, [newEvent('Second', { i })], { expectedRevision: 'any' });
      const second = await collect(store, checkpoint, prefix, (e) => e.length >= 3);
      expect(second.events.map((e) => e.type)).toEqual(['Second', 'Second', 'Second']);
      expect(second.events.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2]);

      // readAll after a position is strictly after it.
      const page = (await store.readAll(checkpoint, 100)).filter((e) => e.stream.startsWith(prefix));
      expect(page.map((e) => e.type)).toEqual(['Second', 'Second', 'Second']);
    });

    it('when an event is appended while a subscriber is idle, then it wakes the subscriber', async () => {
      // "Promptly" is a figure (npm run bench: projection lag), not an assertion: the harness makes
      // polling slower than this test's patience, so a delivery at all proves the wake-up.
      const prefix = stream();
      const from = await store.headPosition();
      // a sentinel first: once it is delivered the subscriber has caught up and waits for news
      let caughtUp!: () => void;
      const idle = new Promise<void>((resolve) => (caughtUp = resolve));
      const got = collect(
        store,
        from,
        prefix,
        (e) => {
          if (e.length >= 1) caughtUp();
          return e.length >= 2;
        },
        60_000,
      );
      await store.append(`${prefix}-x`, [newEvent('Sentinel')], { expectedRevision: 'any' });
      await Promise.race([idle, got]);
      await store.append(`${prefix}-x`, [newEvent('Live')], { expectedRevision: 'any' });
      const { events } = await got;
      expect(events.map((e) => e.type)).toEqual(['Sentinel', 'Live']);
    });
  });
}
