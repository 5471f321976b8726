import type { RecordedEvent } from '../src/eventstore/port.ts';
import { DESK_STREAM, type DeskEvent } from '../src/support/desk.ts';
import type { ChangeSet } from './changes.ts';
import type { Projection } from './projection.ts';
import { eventTime } from './projection.ts';

type RecordedDeskEvent = Omit<RecordedEvent, 'type' | 'data'> & DeskEvent;

/** support_canned, support_agents and support_hours, from the `support-desk` stream. */
export const deskProjection: Projection = {
  name: 'desk',
  project(known, changes) {
    if (known.stream !== DESK_STREAM) return;
    projectDeskEvent(known as unknown as RecordedDeskEvent, changes);
  },
};

function projectDeskEvent(event: RecordedDeskEvent, changes: ChangeSet): void {
  switch (event.type) {
    case 'CannedAnswerSaved':
      return changes.upsert(
        'support_canned',
        {
          canned_id: event.data.cannedId,
          title: event.data.title,
          text_en: event.data.text.en,
          text_nl: event.data.text.nl,
          updated_by: event.data.by,
          updated_at: eventTime(event),
        },
        ['title', 'text_en', 'text_nl', 'updated_by', 'updated_at'],
      );
    case 'CannedAnswerRemoved':
      return changes.delete('support_canned', { canned_id: event.data.cannedId });
    case 'AgentCapacitySet':
      return changes.upsert('support_agents', { sub: event.data.sub, capacity: event.data.capacity }, ['capacity']);
    case 'BusinessHoursSet':
      if (!event.data.hours) return changes.delete('support_hours', { support_group: event.data.group });
      return changes.upsert(
        'support_hours',
        { support_group: event.data.group, time_zone: event.data.hours.timeZone, intervals: event.data.hours.intervals },
        ['time_zone', 'intervals'],
      );
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}
