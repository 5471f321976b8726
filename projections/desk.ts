import type { Compilable, Kysely } from 'kysely';
import type { ReadModelDatabase } from '../src/db/schema.ts';
import type { RecordedEvent } from '../src/eventstore/port.ts';
import { DESK_STREAM, type DeskEvent } from '../src/support/desk.ts';
import type { Projection } from './projection.ts';
import { eventTime } from './projection.ts';

type RecordedDeskEvent = Omit<RecordedEvent, 'type' | 'data'> & DeskEvent;

/** support_canned, support_agents and support_hours, from the `support-desk` stream. */
export const deskProjection: Projection = {
  name: 'desk',
  project(known, db) {
    if (known.stream !== DESK_STREAM) return [];
    return projectDeskEvent(known as unknown as RecordedDeskEvent, db);
  },
};

function projectDeskEvent(event: RecordedDeskEvent, db: Kysely<ReadModelDatabase>): Compilable[] {
  switch (event.type) {
    case 'CannedAnswerSaved': {
      const row = { title: event.data.title, text_en: event.data.text.en, text_nl: event.data.text.nl, updated_by: event.data.by, updated_at: eventTime(event) };
      return [
        db
          .insertInto('support_canned')
          .values({ canned_id: event.data.cannedId, ...row })
          .onConflict((oc) => oc.column('canned_id').doUpdateSet(row)),
      ];
    }
    case 'CannedAnswerRemoved':
      return [db.deleteFrom('support_canned').where('canned_id', '=', event.data.cannedId)];
    case 'AgentCapacitySet':
      return [
        db
          .insertInto('support_agents')
          .values({ sub: event.data.sub, capacity: event.data.capacity })
          .onConflict((oc) => oc.column('sub').doUpdateSet({ capacity: event.data.capacity })),
      ];
    case 'BusinessHoursSet': {
      if (!event.data.hours) return [db.deleteFrom('support_hours').where('support_group', '=', event.data.group)];
      const row = { time_zone: event.data.hours.timeZone, intervals: JSON.stringify(event.data.hours.intervals) };
      return [
        db
          .insertInto('support_hours')
          .values({ support_group: event.data.group, ...row })
          .onConflict((oc) => oc.column('support_group').doUpdateSet(row)),
      ];
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}
