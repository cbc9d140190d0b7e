// A permission changed in place, from its row: its actions, its weekly time window and its limit (PATCH /api/admin/permissions/:id).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api.js';
import { t } from '../../i18n/index.js';
import { ErrorMessage, Field } from '../../ui.js';
import { CheckboxSet, useAction, type Grant } from './common.js';
import { TimeWindowFields, useTimeWindow } from './time-window.js';

export const ACTIONS = ['connect', 'watch', 'replay'] as const;
export type Action = (typeof ACTIONS)[number];
export const ACTION_LABELS: Record<Action, () => string> = {
  connect: () => t('admin.actionConnect'),
  watch: () => t('admin.actionWatch'),
  replay: () => t('admin.actionReplay'),
};

/** The edit form of one permission, under its row; `label` names the row (subject, portal) for screen readers. */
export function PermissionEditor(props: { grant: Grant; label: string; onDone: (changed: boolean) => Promise<void> }) {
  const g = props.grant;
  const prefix = `edit-permission-${g.id}`;
  const [actions, setActions] = useState<Action[]>(() => g.actions.filter((a): a is Action => (ACTIONS as readonly string[]).includes(a)));
  const [maxConcurrent, setMaxConcurrent] = useState(g.maxConcurrent === null ? '' : String(g.maxConcurrent));
  const timeWindow = useTimeWindow(g.timeWindow);
  const action = useAction();
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const body = {
      actions,
      maxConcurrent: maxConcurrent === '' ? null : Number(maxConcurrent),
      timeWindow: timeWindow.value(),
    };
    if (await action.run(() => api('PATCH', `/api/admin/permissions/${g.id}`, body))) await props.onDone(true);
  };

  return (
    <form class="edit-in-place" id={prefix} onSubmit={(e) => void submit(e)} aria-label={t('edit.permissionLabel', { name: props.label })}>
      <CheckboxSet legend={t('admin.allowed')} options={ACTIONS} chosen={actions} onChange={setActions} label={(a) => ACTION_LABELS[a]()} firstRef={first} />
      <Field id={`${prefix}-max`} label={t('admin.maxConcurrent')}>
        <input id={`${prefix}-max`} type="number" min={1} max={1000} value={maxConcurrent} onInput={(e) => setMaxConcurrent(e.currentTarget.value)} />
      </Field>
      <TimeWindowFields prefix={`${prefix}-window`} state={timeWindow} />
      <ErrorMessage error={action.error} />
      <div class="actions">
        <button type="submit" class="small" disabled={action.busy || actions.length === 0}>{t('admin.save')}</button>
        <button type="button" class="secondary small" onClick={() => void props.onDone(false)}>{t('ui.cancel')}</button>
      </div>
    </form>
  );
}
