// A permission changed in place, from its row: its actions, its weekly time window and its limit (PATCH /api/admin/permissions/:id).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api.js';
import { t } from '../../i18n/index.js';
import { ErrorMessage, Field } from '../../ui.js';
import { CheckboxSet, useAction, type Grant } from './common.js';
import { TimeWindowFields, useTimeWindow, type TimeWindow } from './time-window.js';

export const ACTIONS = ['connect', 'watch', 'replay'] as const;
export type Action = (typeof ACTIONS)[number];
export const ACTION_LABELS: Record<Action, () => string> = {
  connect: () => t('admin.actionConnect'),
  watch: () => t('admin.actionWatch'),
  replay: () => t('admin.actionReplay'),
};

/** What a grant form sends: its actions, its limit (as typed) and its time window. */
export interface GrantChoice {
  actions: Action[];
  maxConcurrent: string;
  timeWindow: TimeWindow | null;
}

/**
 * The form of one grant, opened in place (under a row of the list, or below the grid): actions, limit,
 * time window; it takes the focus when it opens. `send` makes the request; a refusal stays in the form.
 */
export function GrantForm(props: {
  id: string;
  label: string;
  initial: GrantChoice;
  submitLabel: string;
  send: (choice: GrantChoice) => Promise<unknown>;
  onDone: (changed: boolean) => Promise<void>;
}) {
  const { id: prefix, initial } = props;
  const [actions, setActions] = useState<Action[]>(initial.actions);
  const [maxConcurrent, setMaxConcurrent] = useState(initial.maxConcurrent);
  const timeWindow = useTimeWindow(initial.timeWindow);
  const action = useAction();
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (await action.run(() => props.send({ actions, maxConcurrent, timeWindow: timeWindow.value() }))) await props.onDone(true);
  };

  return (
    <form class="edit-in-place" id={prefix} onSubmit={(e) => void submit(e)} aria-label={props.label}>
      <CheckboxSet legend={t('admin.allowed')} options={ACTIONS} chosen={actions} onChange={setActions} label={(a) => ACTION_LABELS[a]()} firstRef={first} />
      <Field id={`${prefix}-max`} label={t('admin.maxConcurrent')}>
        <input id={`${prefix}-max`} type="number" min={1} max={1000} value={maxConcurrent} onInput={(e) => setMaxConcurrent(e.currentTarget.value)} />
      </Field>
      <TimeWindowFields prefix={`${prefix}-window`} state={timeWindow} />
      <ErrorMessage error={action.error} />
      <div class="actions">
        <button type="submit" class="small" disabled={action.busy || actions.length === 0}>{props.submitLabel}</button>
        <button type="button" class="secondary small" onClick={() => void props.onDone(false)}>{t('ui.cancel')}</button>
      </div>
    </form>
  );
}

/** The edit form of one permission, under its row; `label` names the row (subject, portal) for screen readers. */
export function PermissionEditor(props: { grant: Grant; label: string; onDone: (changed: boolean) => Promise<void> }) {
  const g = props.grant;
  const initial: GrantChoice = {
    actions: g.actions.filter((a): a is Action => (ACTIONS as readonly string[]).includes(a)),
    maxConcurrent: g.maxConcurrent === null ? '' : String(g.maxConcurrent),
    timeWindow: g.timeWindow,
  };
  const send = (choice: GrantChoice) =>
    api('PATCH', `/api/admin/permissions/${g.id}`, { actions: choice.actions, maxConcurrent: choice.maxConcurrent === '' ? null : Number(choice.maxConcurrent), timeWindow: choice.timeWindow });
  return <GrantForm id={`edit-permission-${g.id}`} label={t('edit.permissionLabel', { name: props.label })} initial={initial} submitLabel={t('admin.save')} send={send} onDone={props.onDone} />;
}
