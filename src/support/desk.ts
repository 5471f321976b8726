import type { SupportActor } from './ability.ts';
import type { Language, SupportGroupId } from './groups.ts';

/**
 * The desk's own stream (`support-desk`): what agents set up for all of them — canned answers,
 * each agent's capacity, business hours per group. Ticket work lives in the ticket streams.
 */
export const DESK_STREAM = 'support-desk';

export const DEFAULT_CAPACITY = 5;
export const MAX_CAPACITY = 100;

/** One opening interval of a weekday (0 = Sunday … 6 = Saturday), local `HH:MM` in the hours' time zone. */
export interface OpeningInterval {
  readonly day: number;
  readonly open: string;
  readonly close: string;
}

export interface BusinessHours {
  readonly timeZone: string;
  readonly intervals: readonly OpeningInterval[];
}

export type DeskEvent =
  | { type: 'CannedAnswerSaved'; data: { cannedId: string; title: string; text: Record<Language, string>; by: number } }
  | { type: 'CannedAnswerRemoved'; data: { cannedId: string; by: number } }
  | { type: 'AgentCapacitySet'; data: { sub: number; capacity: number; by: number } }
  /** `hours: null`: the group has no business hours (open whenever an agent is online) */
  | { type: 'BusinessHoursSet'; data: { group: SupportGroupId; hours: BusinessHours | null; by: number } };

export type DeskEventType = DeskEvent['type'];
export const DESK_EVENT_TYPES: readonly DeskEventType[] = ['CannedAnswerSaved', 'CannedAnswerRemoved', 'AgentCapacitySet', 'BusinessHoursSet'];

export interface DeskState {
  readonly canned: ReadonlyMap<string, { title: string; text: Record<Language, string> }>;
  readonly capacity: ReadonlyMap<number, number>;
  readonly hours: ReadonlyMap<SupportGroupId, BusinessHours>;
}

export const initialDeskState: DeskState = { canned: new Map(), capacity: new Map(), hours: new Map() };

export function evolveDesk(state: DeskState, event: DeskEvent): DeskState {
  switch (event.type) {
    case 'CannedAnswerSaved': {
      const canned = new Map(state.canned);
      canned.set(event.data.cannedId, { title: event.data.title, text: event.data.text });
      return { ...state, canned };
    }
    case 'CannedAnswerRemoved': {
      const canned = new Map(state.canned);
      canned.delete(event.data.cannedId);
      return { ...state, canned };
    }
    case 'AgentCapacitySet': {
      const capacity = new Map(state.capacity);
      capacity.set(event.data.sub, event.data.capacity);
      return { ...state, capacity };
    }
    case 'BusinessHoursSet': {
      const hours = new Map(state.hours);
      if (event.data.hours) hours.set(event.data.group, event.data.hours);
      else hours.delete(event.data.group);
      return { ...state, hours };
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export const deskAggregate = { initial: initialDeskState, evolve: evolveDesk };

export type DeskCommand =
  | { type: 'SaveCannedAnswer'; actor: SupportActor; cannedId: string; title: string; text: Record<Language, string> }
  | { type: 'RemoveCannedAnswer'; actor: SupportActor; cannedId: string }
  | { type: 'SetCapacity'; actor: SupportActor; sub: number; capacity: number }
  | { type: 'SetBusinessHours'; actor: SupportActor; group: SupportGroupId; hours: BusinessHours | null };

export class DeskDomainError extends Error {
  constructor(
    readonly code: 'forbidden' | 'canned_not_found',
    message: string,
  ) {
    super(message);
  }
}

const sameHours = (a: BusinessHours | undefined, b: BusinessHours | null) => JSON.stringify(a ?? null) === JSON.stringify(b);

export function decideDesk(command: DeskCommand, state: DeskState): DeskEvent[] {
  if (!command.actor.agent) throw new DeskDomainError('forbidden', 'only a support agent can change the desk');
  const by = command.actor.sub;
  switch (command.type) {
    case 'SaveCannedAnswer': {
      const current = state.canned.get(command.cannedId);
      if (current && current.title === command.title && current.text.en === command.text.en && current.text.nl === command.text.nl) return [];
      return [{ type: 'CannedAnswerSaved', data: { cannedId: command.cannedId, title: command.title, text: command.text, by } }];
    }
    case 'RemoveCannedAnswer':
      if (!state.canned.has(command.cannedId)) throw new DeskDomainError('canned_not_found', 'there is no such canned answer');
      return [{ type: 'CannedAnswerRemoved', data: { cannedId: command.cannedId, by } }];
    case 'SetCapacity':
      if ((state.capacity.get(command.sub) ?? DEFAULT_CAPACITY) === command.capacity) return [];
      return [{ type: 'AgentCapacitySet', data: { sub: command.sub, capacity: command.capacity, by } }];
    case 'SetBusinessHours':
      if (sameHours(state.hours.get(command.group), command.hours)) return [];
      return [{ type: 'BusinessHoursSet', data: { group: command.group, hours: command.hours, by } }];
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

/** Placeholders a canned answer may hold: the customer's name and the ticket's client id. */
export function fillPlaceholders(text: string, values: { customerName: string; clientId: string | null }): string {
  return text.replace(/\{\{\s*(customerName|clientId)\s*\}\}/g, (_, name: string) =>
    name === 'customerName' ? values.customerName : (values.clientId ?? ''),
  );
}
