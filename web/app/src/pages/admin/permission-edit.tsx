// A permission changed in place, from its row: its actions, its weekly time window and its limit (PATCH /api/admin/permissions/:id).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api.js';
import { t } from '../../i18n/index.js';
import { ErrorMessage, Field } from '../../ui.js';
import { CheckboxSet, useAction, type Grant } from './common.js';

export const ACTIONS = ['connect', 'watch', 'replay'] as const;
export type Action = (typeof ACTIONS)[number];
export const ACTION_LABELS: Record<Action, () => string> = {
  connect: () => t('admin.actionConnect'),
  watch: () => t('admin.actionWatch'),
  replay: () => t('admin.actionReplay'),
};

/** An ISO weekday (1 Monday … 7 Sunday) in the page's language, from Intl (2024-01-01 was a Monday). */
export function weekdayName(day: number): string {
  return new Intl.DateTimeFormat(document.documentElement.lang || 'en', { weekday: 'long', timeZone: 'UTC' }).format(new Date(Date.UTC(2024, 0, day)));
}

/** The edit form of one permission, under its row; `label` names the row (subject, portal) for screen readers. */
export function PermissionEditor(props: { grant: Grant; label: string; onDone: (changed: boolean) => Promise<void> }) {
  const g = props.grant;
  const prefix = `edit-permission-${g.id}`;
  const [actions, setActions] = useState<Action[]>(() => g.actions.filter((a): a is Action => (ACTIONS as readonly string[]).includes(a)));
  const [maxConcurrent, setMaxConcurrent] = useState(g.maxConcurrent === null ? '' : String(g.maxConcurrent));
  const [windowOn, setWindowOn] = useState(g.timeWindow !== null);
  const [zone, setZone] = useState(g.timeWindow?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [days, setDays] = useState<number[]>(g.timeWindow?.days ?? [1, 2, 3, 4, 5]);
  const [start, setStart] = useState(g.timeWindow?.start ?? '08:00');
  const [end, setEnd] = useState(g.timeWindow?.end ?? '18:00');
  const action = useAction();
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const body = {
      actions,
      maxConcurrent: maxConcurrent === '' ? null : Number(maxConcurrent),
      timeWindow: windowOn ? { timeZone: zone.trim(), days, start, end } : null,
    };
    if (await action.run(() => api('PATCH', `/api/admin/permissions/${g.id}`, body))) await props.onDone(true);
  };

  return (
    <form class="edit-in-place" id={prefix} onSubmit={(e) => void submit(e)} aria-label={t('edit.permissionLabel', { name: props.label })}>
      <CheckboxSet legend={t('admin.allowed')} options={ACTIONS} chosen={actions} onChange={setActions} label={(a) => ACTION_LABELS[a]()} firstRef={first} />
      <Field id={`${prefix}-max`} label={t('admin.maxConcurrent')}>
        <input id={`${prefix}-max`} type="number" min={1} max={1000} value={maxConcurrent} onInput={(e) => setMaxConcurrent(e.currentTarget.value)} />
      </Field>
      <label class="check">
        <input type="checkbox" id={`${prefix}-window`} checked={windowOn} onChange={(e) => setWindowOn(e.currentTarget.checked)} />
        {t('admin.limitToWindow')}
      </label>
      {windowOn && (
        <fieldset class="checks">
          <legend>{t('admin.timeWindow')}</legend>
          <div class="filter-grid">
            <Field id={`${prefix}-zone`} label={t('admin.timeZone')}>
              <input id={`${prefix}-zone`} required value={zone} onInput={(e) => setZone(e.currentTarget.value)} />
            </Field>
            <Field id={`${prefix}-start`} label={t('admin.windowStart')}>
              <input id={`${prefix}-start`} type="time" required value={start} onInput={(e) => setStart(e.currentTarget.value)} />
            </Field>
            <Field id={`${prefix}-end`} label={t('admin.windowEnd')}>
              <input id={`${prefix}-end`} type="time" required value={end} onInput={(e) => setEnd(e.currentTarget.value)} />
            </Field>
          </div>
          <div class="days">
            {[1, 2, 3, 4, 5, 6, 7].map((d) => (
              <label key={d} class="check">
                <input type="checkbox" checked={days.includes(d)} onChange={(e) => setDays((all) => (e.currentTarget.checked ? [...all, d].sort() : all.filter((x) => x !== d)))} />
                {weekdayName(d)}
              </label>
            ))}
          </div>
        </fieldset>
      )}
      <ErrorMessage error={action.error} />
      <div class="actions">
        <button type="submit" class="small" disabled={action.busy || actions.length === 0}>{t('admin.save')}</button>
        <button type="button" class="secondary small" onClick={() => void props.onDone(false)}>{t('ui.cancel')}</button>
      </div>
    </form>
  );
}
