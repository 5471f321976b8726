import { organisationStream } from '../accounts/events.ts';
import { clientStream } from '../clients/events.ts';
import { type EventStore, type Position, comparePositions } from '../eventstore/port.ts';
import type { HistoryEvent } from './fold.ts';

/** A client's stream and its organisation's stream, merged in global order. */
export interface ClientHistory {
  readonly clientId: string;
  /** null when the client stream is empty (the client never existed) */
  readonly organisationId: string | null;
  readonly events: readonly HistoryEvent[];
}

/** Merges two lists already in global order. */
function merge(a: readonly HistoryEvent[], b: readonly HistoryEvent[]): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(comparePositions(a[i]!.position, b[j]!.position) <= 0 ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/** Reads the history from the event store, optionally only up to a position. */
export async function readClientHistory(store: EventStore, clientId: string, toPosition?: Position): Promise<ClientHistory> {
  const options = toPosition ? { toPosition } : {};
  const clientEvents = (await store.readStream(clientStream(clientId), options)) as unknown as HistoryEvent[];
  const registered = clientEvents.find((e) => e.type === 'ClientRegistered');
  const organisationId = registered?.type === 'ClientRegistered' ? registered.data.organisationId : null;
  if (!organisationId) return { clientId, organisationId: null, events: clientEvents };
  const organisationEvents = (await store.readStream(organisationStream(organisationId), options)) as unknown as HistoryEvent[];
  return { clientId, organisationId, events: merge(clientEvents, organisationEvents) };
}

/** The events at or before a position. */
export function upToPosition(events: readonly HistoryEvent[], position: Position): readonly HistoryEvent[] {
  let end = 0;
  while (end < events.length && comparePositions(events[end]!.position, position) <= 0) end++;
  return events.slice(0, end);
}

/**
 * The events that had happened by a time: the longest prefix (in global order) whose events are
 * all stamped at or before it — a state that really existed, even if two nodes' clocks disagree.
 */
export function upToTime(events: readonly HistoryEvent[], at: number): readonly HistoryEvent[] {
  let end = 0;
  while (end < events.length && Date.parse(events[end]!.metadata.at) <= at) end++;
  return events.slice(0, end);
}
