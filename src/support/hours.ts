import type { BusinessHours } from './desk.ts';

/** Whether `timeZone` is an IANA zone this runtime knows (Intl throws on anything else). */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
    return true;
  } catch {
    return false;
  }
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The weekday (0 = Sunday) and minutes since midnight of `at` in `timeZone` (daylight saving included). */
export function localTime(at: Date, timeZone: string): { day: number; minutes: number } {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { day: WEEKDAYS.indexOf(get('weekday')), minutes: Number(get('hour')) * 60 + Number(get('minute')) };
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Inside one of the intervals (open inclusive, close exclusive); no hours at all means always open. */
export function withinBusinessHours(hours: BusinessHours | null | undefined, at: Date): boolean {
  if (!hours) return true;
  const { day, minutes } = localTime(at, hours.timeZone);
  return hours.intervals.some((i) => i.day === day && minutesOf(i.open) <= minutes && minutes < minutesOf(i.close));
}
