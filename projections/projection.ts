import type { Compilable, Kysely } from 'kysely';
import type { RecordedEvent } from '../src/eventstore/port.ts';
import type { ReadModelDatabase } from '../src/db/schema.ts';
import type { ClientEvent } from '../src/clients/events.ts';
import type { OrganisationEvent } from '../src/accounts/events.ts';
import type { UserEvent } from '../src/account/events.ts';

/**
 * A read model: a pure mapping from one event to the statements that bring its tables up to
 * date. `db` only builds queries (it is bound to the target schema); the runner executes them,
 * in order, in the batch's transaction together with the checkpoint. Every statement must be
 * idempotent for the same event, and use nothing but the event (no clock, no random). A row
 * is written by the events of one stream only: a rebuild applies groups of streams side by
 * side in separate transactions.
 */
export interface Projection {
  readonly name: string;
  project(event: KnownEvent, db: Kysely<ReadModelDatabase>): Compilable[];
}

/**
 * An append-only read model whose rows depend on no other row written in the same batch: it
 * writes a whole batch in one statement, after the other projections.
 */
export interface BatchProjection {
  readonly name: string;
  projectBatch(events: readonly KnownEvent[], db: Kysely<ReadModelDatabase>): Compilable[];
}

export type KnownEvent = Omit<RecordedEvent, 'type' | 'data'> & (ClientEvent | OrganisationEvent | UserEvent);

/** The id in `client-<id>` / `organisation-<id>` streams. */
export function streamEntityId(stream: string, prefix: 'client' | 'organisation'): string | undefined {
  return stream.startsWith(`${prefix}-`) ? stream.slice(prefix.length + 1) : undefined;
}

export const eventTime = (event: RecordedEvent): string => event.metadata.at;
