import { LRUCache } from 'lru-cache';
import { organisationStream } from '../accounts/events.ts';
import { clientStream } from '../clients/events.ts';
import { type EventStore, type Position, comparePositions } from '../eventstore/port.ts';
import { type HistoryEvent, type ReplayState, evolveReplay, initialReplayState } from './fold.ts';

/**
 * A client's stream and its organisation's stream, merged in global order, with the fold of any
 * prefix of it. Replays (explain, time travel, the impact preview) read it here.
 */
export interface ClientHistory {
  readonly clientId: string;
  /** null when the client stream is empty (the client never existed) */
  readonly organisationId: string | null;
  /** oldest first, in global order */
  readonly events: readonly HistoryEvent[];
  /** the fold of the first `count` events */
  stateAfter(count: number): ReplayState;
}

/** How many events are at or before a position. */
export function countUpToPosition(events: readonly HistoryEvent[], position: Position): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (comparePositions(events[mid]!.position, position) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * How many events had happened by a time: the longest prefix (in global order) whose events are
 * all stamped at or before it — a state that really existed, even if two nodes' clocks disagree.
 */
export function countUpToTime(events: readonly HistoryEvent[], at: number): number {
  let end = 0;
  while (end < events.length && Date.parse(events[end]!.metadata.at) <= at) end++;
  return end;
}

const byPosition = (a: HistoryEvent, b: HistoryEvent) => comparePositions(a.position, b.position);

/**
 * Folded states kept every `every` events, so a fold up to any point replays at most `every`
 * events (the live `evolve` copies what it changes: a long history folds in O(events × size)).
 * Valid for one sequence of events that only ever grows at its end.
 */
class Checkpoints {
  private readonly states = new Map<number, ReplayState>([[0, initialReplayState]]);
  /** the last few states asked for off the grid (the head, a denial's position explained again) */
  private readonly recent = new LRUCache<number, ReplayState>({ max: 16 });
  constructor(private readonly every: number) {}

  stateAfter(events: readonly HistoryEvent[], count: number): ReplayState {
    const end = Math.min(Math.max(0, count), events.length);
    const known = this.states.get(end) ?? this.recent.get(end);
    if (known) return known;
    let at = end - (end % this.every);
    while (!this.states.has(at)) at -= this.every;
    let state = this.states.get(at)!;
    for (let i = at; i < end; i++) {
      state = evolveReplay(state, events[i]!);
      if ((i + 1) % this.every === 0) this.states.set(i + 1, state);
    }
    this.recent.set(end, state);
    return state;
  }
}

/** The history read once, folded from scratch (the CLI, tests). */
export async function readClientHistory(store: EventStore, clientId: string): Promise<ClientHistory> {
  const clientEvents = (await store.readStream(clientStream(clientId))) as unknown as HistoryEvent[];
  const organisationId = organisationOf(clientEvents);
  const organisationEvents = organisationId ? ((await store.readStream(organisationStream(organisationId))) as unknown as HistoryEvent[]) : [];
  return historyOf(clientId, organisationId, [...clientEvents, ...organisationEvents].sort(byPosition));
}

export function historyOf(clientId: string, organisationId: string | null, events: readonly HistoryEvent[], every = 128): ClientHistory {
  const checkpoints = new Checkpoints(every);
  return { clientId, organisationId, events, stateAfter: (count) => checkpoints.stateAfter(events, count) };
}

function organisationOf(events: readonly HistoryEvent[]): string | null {
  const registered = events.find((e) => e.type === 'ClientRegistered');
  return registered?.type === 'ClientRegistered' ? registered.data.organisationId : null;
}

interface Entry {
  readonly clientId: string;
  organisationId: string | null;
  events: HistoryEvent[];
  /** next revision to read of each stream */
  nextClientRevision: bigint;
  nextOrganisationRevision: bigint;
  checkpoints: Checkpoints;
  /** one refresh at a time per client */
  refreshing: Promise<unknown>;
}

/**
 * Per node: each client's history and its folded checkpoints, kept between replays. Every read
 * first fetches what was appended since (one short query per stream), so an answer is never
 * staler than the event store. Bounded by the number of events held.
 */
export class HistoryCache {
  private readonly entries: LRUCache<string, Entry>;
  private readonly every: number;

  constructor(
    private readonly store: EventStore,
    options: { maxEvents?: number; every?: number } = {},
  ) {
    this.every = options.every ?? 128;
    this.entries = new LRUCache<string, Entry>({ maxSize: options.maxEvents ?? 500_000, sizeCalculation: (e) => Math.max(1, e.events.length) });
  }

  async history(clientId: string): Promise<ClientHistory> {
    const entry = this.entries.get(clientId) ?? {
      clientId,
      organisationId: null,
      events: [],
      nextClientRevision: 0n,
      nextOrganisationRevision: 0n,
      checkpoints: new Checkpoints(this.every),
      refreshing: Promise.resolve(),
    };
    const refreshed = entry.refreshing.then(() => this.refresh(entry));
    entry.refreshing = refreshed.catch(() => {});
    await refreshed;
    if (entry.events.length > 0) this.entries.set(clientId, entry);
    const { events, checkpoints, organisationId } = entry;
    return { clientId, organisationId, events, stateAfter: (count) => checkpoints.stateAfter(events, count) };
  }

  private async refresh(entry: Entry): Promise<void> {
    const readOrganisation = (organisationId: string) =>
      this.store.readStream(organisationStream(organisationId), { fromRevision: entry.nextOrganisationRevision }) as unknown as Promise<HistoryEvent[]>;
    // once the organisation is known, both streams are read side by side
    const known = entry.organisationId;
    const [clientEvents, knownOrganisationEvents] = await Promise.all([
      this.store.readStream(clientStream(entry.clientId), { fromRevision: entry.nextClientRevision }) as unknown as Promise<HistoryEvent[]>,
      known ? readOrganisation(known) : Promise.resolve([]),
    ]);
    entry.organisationId ??= organisationOf(clientEvents);
    const organisationEvents = known || !entry.organisationId ? knownOrganisationEvents : await readOrganisation(entry.organisationId);
    if (clientEvents.length > 0) entry.nextClientRevision = clientEvents.at(-1)!.revision + 1n;
    if (organisationEvents.length > 0) entry.nextOrganisationRevision = organisationEvents.at(-1)!.revision + 1n;
    const fresh = [...clientEvents, ...organisationEvents];
    if (fresh.length === 0) return;
    fresh.sort(byPosition);
    const last = entry.events.at(-1);
    // Appends normally land after everything held; one committed out of order (a transaction
    // that started earlier) sorts in before it, and the folded states past it no longer hold.
    // Histories handed out before keep their own events and states.
    const inOrder = !last || byPosition(last, fresh[0]!) < 0;
    entry.events = inOrder ? [...entry.events, ...fresh] : [...entry.events, ...fresh].sort(byPosition);
    if (!inOrder) entry.checkpoints = new Checkpoints(this.every);
  }
}
