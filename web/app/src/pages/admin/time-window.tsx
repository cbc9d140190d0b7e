// A permission's weekly time window, as the console edits it: when adding a permission and when changing one in place.
import { useState } from 'preact/hooks';
import { t } from '../../i18n/index.js';
import { Field } from '../../ui.js';

export interface TimeWindow {
  timeZone: string;
  days: number[];
  start: string;
  end: string;
}

/** An ISO weekday (1 Monday … 7 Sunday) in the page's language, from Intl (2024-01-01 was a Monday). */
export function weekdayName(day: number): string {
  return new Intl.DateTimeFormat(document.documentElement.lang || 'en', { weekday: 'long', timeZone: 'UTC' }).format(new Date(Date.UTC(2024, 0, day)));
}

export interface TimeWindowState {
  on: boolean;
  setOn(on: boolean): void;
  zone: string;
  setZone(zone: string): void;
  days: number[];
  setDays(update: (days: number[]) => number[]): void;
  start: string;
  setStart(start: string): void;
  end: string;
  setEnd(end: string): void;
  /** What the API takes: the window, or null when the permission has none. */
  value(): TimeWindow | null;
}

/** The form's state of a time window; without one, weekdays 08:00–18:00 in the browser's time zone are offered. */
export function useTimeWindow(initial: TimeWindow | null): TimeWindowState {
  const [on, setOn] = useState(initial !== null);
  const [zone, setZone] = useState(() => initial?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [days, setDays] = useState<number[]>(initial?.days ?? [1, 2, 3, 4, 5]);
  const [start, setStart] = useState(initial?.start ?? '08:00');
  const [end, setEnd] = useState(initial?.end ?? '18:00');
  return { on, setOn, zone, setZone, days, setDays, start, setStart, end, setEnd, value: () => (on ? { timeZone: zone.trim(), days, start, end } : null) };
}

/** The "limit to a time window" switch and, when on, the window's fields; ids start with `prefix`. */
export function TimeWindowFields(props: { prefix: string; state: TimeWindowState }) {
  const { prefix, state: w } = props;
  return (
    <>
      <label class="check">
        <input type="checkbox" id={`${prefix}-on`} checked={w.on} onChange={(e) => w.setOn(e.currentTarget.checked)} />
        {t('admin.limitToWindow')}
      </label>
      {w.on && (
        <fieldset class="checks">
          <legend>{t('admin.timeWindow')}</legend>
          <div class="filter-grid">
            <Field id={`${prefix}-zone`} label={t('admin.timeZone')}>
              <input id={`${prefix}-zone`} required value={w.zone} onInput={(e) => w.setZone(e.currentTarget.value)} />
            </Field>
            <Field id={`${prefix}-start`} label={t('admin.windowStart')}>
              <input id={`${prefix}-start`} type="time" required value={w.start} onInput={(e) => w.setStart(e.currentTarget.value)} />
            </Field>
            <Field id={`${prefix}-end`} label={t('admin.windowEnd')}>
              <input id={`${prefix}-end`} type="time" required value={w.end} onInput={(e) => w.setEnd(e.currentTarget.value)} />
            </Field>
          </div>
          <div class="days">
            {[1, 2, 3, 4, 5, 6, 7].map((d) => (
              <label key={d} class="check">
                <input type="checkbox" checked={w.days.includes(d)} onChange={(e) => w.setDays((all) => (e.currentTarget.checked ? [...all, d].sort() : all.filter((x) => x !== d)))} />
                {weekdayName(d)}
              </label>
            ))}
          </div>
        </fieldset>
      )}
    </>
  );
}
