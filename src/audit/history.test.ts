import { describe, expect, it } from 'vitest';
import type { EventStore, RecordedEvent } from '../eventstore/port.ts';
import { foldHistory, type HistoryEvent } from './fold.ts';
import { HistoryCache, countUpToPosition, countUpToTime } from './history.ts';

const meta = (at: string) => ({ actor: '1', correlationId: 'c', causationId: 'c', requestId: 'r', ip: null, userAgent: null, at });

function event(stream: string, revision: number, commit: number, type: string, data: unknown, at = '2026-03-01T10:00:00.000Z'): RecordedEvent {
  return { id: `${stream}/${revision}`, stream, revision: BigInt(revision), position: { commit: BigInt(commit), prepare: 0n }, type, data, metadata: meta(at) };
}

/** Only what the cache reads: streams by revision. */
function fakeStore(streams: Map<string, RecordedEvent[]>): EventStore {
  return {
    async readStream(stream: string, options: { fromRevision?: bigint } = {}) {
      return (streams.get(stream) ?? []).filter((e) => e.revision >= (options.fromRevision ?? 0n));
    },
  } as unknown as EventStore;
}

describe('HistoryCache', () => {
  const client = 'client-kc_1';
  const organisation = 'organisation-org_1';
  const streams = new Map<string, RecordedEvent[]>([
    [organisation, [event(organisation, 0, 1, 'OrganisationCreated', { organisationId: 'org_1', name: 'Org' }), event(organisation, 1, 2, 'PlanActivated', { plan: 'pro', previousPlan: null })]],
    [client, [event(client, 0, 3, 'ClientRegistered', { clientId: 'kc_1', organisationId: 'org_1', name: 'A' }), event(client, 1, 6, 'ClientRenamed', { name: 'B', previousName: 'A' })]],
  ]);
  const cache = new HistoryCache(fakeStore(streams), { every: 2 });

  it('when events arrive later, then they are read from where it left off and folded from the kept states', async () => {
    const first = await cache.history('kc_1');
    expect(first.organisationId).toBe('org_1');
    expect(first.events.map((e) => e.position.commit)).toEqual([1n, 2n, 3n, 6n]);
    expect(first.stateAfter(4).client?.name).toBe('B');
    streams.get(client)!.push(event(client, 2, 7, 'ClientRenamed', { name: 'C', previousName: 'B' }));
    const second = await cache.history('kc_1');
    expect(second.events).toHaveLength(5);
    expect(second.stateAfter(5).client?.name).toBe('C');
    // a history handed out before keeps its own events
    expect(first.events).toHaveLength(4);
  });

  it('when an event committed out of order sorts in before held ones, then every state is folded again in order', async () => {
    // a plan cancellation whose transaction began before the client's rename (commit 5 < 6)
    streams.get(organisation)!.push(event(organisation, 2, 5, 'PlanCancelled', { plan: 'pro' }));
    const history = await cache.history('kc_1');
    expect(history.events.map((e) => e.position.commit)).toEqual([1n, 2n, 3n, 5n, 6n, 7n]);
    for (let n = 0; n <= history.events.length; n++) {
      expect(history.stateAfter(n)).toEqual(foldHistory(history.events.slice(0, n) as HistoryEvent[]));
    }
    expect(history.stateAfter(4).organisation.planActive).toBe(false);
  });

  it('counts events up to a position (binary search) and up to a time (the prefix stamped by then)', () => {
    const events = [
      event(client, 0, 1, 'ClientRenamed', {}, '2026-03-01T10:00:00.000Z'),
      event(client, 1, 2, 'ClientRenamed', {}, '2026-03-01T10:00:02.000Z'),
      event(client, 2, 3, 'ClientRenamed', {}, '2026-03-01T10:00:01.000Z'),
    ] as unknown as HistoryEvent[];
    expect([0, 1, 2, 3, 4].map((c) => countUpToPosition(events, { commit: BigInt(c), prepare: 0n }))).toEqual([0, 1, 2, 3, 3]);
    // a clock that went back: the prefix stops at the first event stamped later
    expect(countUpToTime(events, Date.parse('2026-03-01T10:00:01.500Z'))).toBe(1);
    expect(countUpToTime(events, Date.parse('2026-03-01T10:00:02.000Z'))).toBe(3);
  });
});
