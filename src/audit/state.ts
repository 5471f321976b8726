import type { Database } from '../db/database.ts';
import type { FieldProblem } from '../http/problem.ts';
import { lastUsed, serialiseClientDetails, type ClientDetails } from '../clients/queries.ts';
import { type EventStore, type Position, comparePositions, formatPosition, parsePosition } from '../eventstore/port.ts';
import { clientDetailsSourceOf } from './fold.ts';
import { type HistoryCache, countUpToPosition, countUpToTime, readClientHistory } from './history.ts';

/** Time travel: a client as it was at a time or a position, rebuilt from its events. */

export type StateQuery = { readonly at: number } | { readonly position: Position };

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** `at` as ISO-8601 with a time zone, from 1970 to now. A problem names the field. */
export function parseAt(text: string, now: Date): { at: number } | FieldProblem {
  const problem = (message: string): FieldProblem => ({ field: 'at', message });
  const m = ISO_DATE_TIME.exec(text.trim());
  if (!m) return problem('must be an ISO-8601 date-time with a time zone, such as 2026-03-01T10:00:00Z');
  if (m[8] === undefined) return problem('has no time zone: add Z (UTC) or an offset such as +01:00');
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const valid =
    month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate() && hour <= 23 && minute <= 59 && second <= 59;
  const at = Date.parse(text.trim().replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  if (!valid || Number.isNaN(at)) return problem('is not a valid date and time');
  if (at < 0) return problem('must not be before 1970-01-01T00:00:00Z');
  if (at > now.getTime()) return problem('must not be in the future');
  return { at };
}

/** `?at=` or `?position=`, exactly one of them. */
export function parseStateQuery(query: { at?: unknown; position?: unknown }, now: Date): StateQuery | FieldProblem {
  const at = typeof query.at === 'string' ? query.at : undefined;
  const position = typeof query.position === 'string' ? query.position : undefined;
  if ((query.at !== undefined && at === undefined) || (query.position !== undefined && position === undefined)) {
    return { field: query.at !== undefined && at === undefined ? 'at' : 'position', message: 'must be given once' };
  }
  if (at !== undefined && position !== undefined) return { field: 'position', message: 'give either at or position, not both' };
  if (at !== undefined) return parseAt(at, now);
  if (position !== undefined) {
    const parsed = parsePosition(position);
    if (!parsed || parsed.commit < 0n || parsed.prepare < 0n) return { field: 'position', message: 'must be a position as the API returns it, such as 1234/5678' };
    return { position: parsed };
  }
  return { field: 'at', message: 'is required (or give position)' };
}

export type StateOutcome =
  | { readonly kind: 'state'; readonly state: ClientDetails & { asOf: { at: string; position: string } } }
  /** another organisation's client, or one that never existed */
  | { readonly kind: 'not_found' }
  | { readonly kind: 'not_yet_created' }
  | { readonly kind: 'no_such_position' };

/**
 * The client at a time or a position, in the shape of GET /clients/:clientId, plus `asOf`. A
 * position must be one the API showed for this client: one of its events, one of its
 * organisation's, or one its denials were decided at.
 */
export async function clientStateAt(
  deps: { database: Database; store: EventStore; histories?: HistoryCache },
  clientId: string,
  query: StateQuery,
  /** the caller's organisation; undefined = the operator (CLI) */
  organisationId?: string,
): Promise<StateOutcome> {
  const { database, store } = deps;
  const history = deps.histories ? await deps.histories.history(clientId) : await readClientHistory(store, clientId);
  // whose client it is, from its own events: a deleted client stays its organisation's
  if (history.organisationId === null || (organisationId !== undefined && history.organisationId !== organisationId)) return { kind: 'not_found' };
  let count;
  if ('position' in query) {
    const known =
      history.events.some((e) => comparePositions(e.position, query.position) === 0) ||
      (await database.db
        .selectFrom('auth_denials')
        .select('request_id')
        .where('client_id', '=', clientId)
        .where('position', '=', formatPosition(query.position))
        .limit(1)
        .executeTakeFirst()) !== undefined;
    if (!known) return { kind: 'no_such_position' };
    count = countUpToPosition(history.events, query.position);
  } else {
    count = countUpToTime(history.events, query.at);
  }
  const state = history.stateAfter(count);
  const source = clientDetailsSourceOf(state);
  if (!source || !state.position) return { kind: 'not_yet_created' };
  const asOf = {
    at: 'at' in query ? new Date(query.at).toISOString() : state.at!,
    position: 'position' in query ? formatPosition(query.position) : formatPosition(state.position),
  };
  const used = await lastUsed(database.db, clientId, new Date(asOf.at));
  return { kind: 'state', state: { ...serialiseClientDetails(source, used), asOf } };
}
