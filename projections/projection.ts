import type { RecordedEvent } from '../src/eventstore/port.ts';
import type { RawBuilder } from 'kysely';
import type { ChangeSet } from './changes.ts';
import type { ClientEvent } from '../src/clients/events.ts';
import type { OrganisationEvent } from '../src/accounts/events.ts';
import type { UserEvent } from '../src/account/events.ts';

/**
 * A read model: a pure mapping from one event to changes of its tables, described on the
 * batch's ChangeSet (insert, upsert, update, delete). The runner folds a batch's changes per
 * row and writes them set-based, in the batch's transaction together with the checkpoint of
 * the projection's group. Changes use nothing but the event (no clock, no random). A row is
 * written by the events of one stream only: a rebuild applies groups of streams side by side
 * in separate transactions.
 */
export interface Projection {
  readonly name: string;
  project(event: KnownEvent, changes: ChangeSet): void;
  /**
   * The one exception to "a row belongs to one stream": statements over rows of other streams
   * (an erasure scrubbing what the person left in the audit log). Run after the batch's changes
   * in its transaction; a rebuild runs `afterRebuild` once, when every stream is applied.
   */
  afterBatch?(events: readonly KnownEvent[]): readonly RawBuilder<unknown>[];
  afterRebuild?(): readonly RawBuilder<unknown>[];
}

export type KnownEvent = Omit<RecordedEvent, 'type' | 'data'> & (ClientEvent | OrganisationEvent | UserEvent);

/** The id in `client-<id>` / `organisation-<id>` streams. */
export function streamEntityId(stream: string, prefix: 'client' | 'organisation'): string | undefined {
  return stream.startsWith(`${prefix}-`) ? stream.slice(prefix.length + 1) : undefined;
}

export const eventTime = (event: RecordedEvent): string => event.metadata.at;
