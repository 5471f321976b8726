import { describe, expect, it } from 'vitest';
import { localTime, withinBusinessHours, isTimeZone } from './hours.ts';

const weekdays = (open: string, close: string) => [1, 2, 3, 4, 5].map((day) => ({ day, open, close }));

describe('business hours', () => {
  const amsterdam = { timeZone: 'Europe/Amsterdam', intervals: weekdays('09:00', '17:00') };

  it('when it is 08:30 UTC on a winter Monday, then it is 09:30 in Amsterdam: open', () => {
    expect(localTime(new Date('2026-01-05T08:30:00Z'), 'Europe/Amsterdam')).toEqual({ day: 1, minutes: 9 * 60 + 30 });
    expect(withinBusinessHours(amsterdam, new Date('2026-01-05T08:30:00Z'))).toBe(true);
  });

  it('when it is 15:30 UTC on a summer Friday, then it is 17:30 in Amsterdam (daylight saving): closed', () => {
    expect(withinBusinessHours(amsterdam, new Date('2026-07-03T15:30:00Z'))).toBe(false);
  });

  it('when it is Saturday, or the close minute exactly, then it is closed', () => {
    expect(withinBusinessHours(amsterdam, new Date('2026-01-10T10:00:00Z'))).toBe(false);
    expect(withinBusinessHours(amsterdam, new Date('2026-01-05T16:00:00Z'))).toBe(false);
  });

  it('when a group has no hours, then it is always open; an unknown zone is not a zone', () => {
    expect(withinBusinessHours(null, new Date())).toBe(true);
    expect(isTimeZone('Europe/Amsterdam')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
