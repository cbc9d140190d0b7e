import { z } from 'zod';

/**
 * A weekly window in a time zone's wall-clock time: `days` are ISO weekdays
 * (1 = Monday … 7 = Sunday) on which the window opens at `start`; it closes
 * at `end` the same day, or the next day when `end` is not after `start`
 * (a night shift 22:00–06:00). `end` may be `24:00`. Daylight saving time is
 * the zone's: 09:00 stays 09:00 local in summer and winter.
 */
export interface TimeWindow {
  timeZone: string;
  days: readonly number[];
  start: string;
  end: string;
}

const HH_MM = /^(?:[01]\d|2[0-3]):[0-5]\d$/;

export const timeWindowSchema = z
  .strictObject({
    timeZone: z.string().min(1).max(64).refine(isTimeZone, 'an IANA time zone such as Europe/Berlin'),
    days: z
      .array(z.number().int().min(1).max(7))
      .min(1)
      .max(7)
      .refine((d) => new Set(d).size === d.length, 'days must not repeat'),
    start: z.string().regex(HH_MM, 'HH:MM from 00:00 to 23:59'),
    end: z.string().refine((v) => HH_MM.test(v) || v === '24:00', 'HH:MM from 00:01 to 24:00'),
  })
  .refine((w) => w.start !== w.end, { message: 'start and end must differ', path: ['end'] });

export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

const WEEKDAY: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
// Formatters are costly to build and deterministic: one per zone (not I/O, not a clock).
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    if (formatters.size < 1000) formatters.set(timeZone, f);
  }
  return f;
}

/** ISO weekday and minute of the day of `instant` on the wall clock of `timeZone`. */
export function wallClock(instant: Date, timeZone: string): { day: number; minute: number } {
  const parts = formatterFor(timeZone).formatToParts(instant);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const day = WEEKDAY[get('weekday')];
  const hour = Number(get('hour'));
  const minute = Number(get('minute'));
  if (day === undefined || !Number.isInteger(hour) || !Number.isInteger(minute)) throw new RangeError('unexpected Intl output');
  return { day, minute: hour * 60 + minute };
}

function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** True inside the window, false outside, `{ invalid }` when the window itself is malformed (callers deny). */
export function isWithinWindow(window: TimeWindow, instant: Date): boolean | { invalid: string } {
  const parsed = timeWindowSchema.safeParse(window);
  if (!parsed.success) return { invalid: parsed.error.issues.map((i) => `${i.path.join('.') || 'window'}: ${i.message}`).join('; ') };
  const w = parsed.data;
  const { day, minute } = wallClock(instant, w.timeZone);
  const start = minutes(w.start);
  const end = w.end === '24:00' ? 1440 : minutes(w.end);
  if (start < end) return w.days.includes(day) && minute >= start && minute < end;
  // Crosses midnight: the evening part belongs to the day it opened, the morning part to the day before.
  const previous = day === 1 ? 7 : day - 1;
  return (w.days.includes(day) && minute >= start) || (w.days.includes(previous) && minute < end);
}
