// A group changed in place, from its row: its name, description and roles (PATCH /api/admin/groups/:id); members have their own panel.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api.js';
import { t } from '../../i18n/index.js';
import { ErrorMessage, Field } from '../../ui.js';
import { CheckboxSet, ROLE_NAMES, roleLabel, useAction, type Group } from './common.js';

export function GroupEditor(props: { group: Group; onDone: (changed: boolean) => Promise<void> }) {
  const g = props.group;
  const prefix = `edit-group-${g.id}`;
  const [name, setName] = useState(g.name);
  const [description, setDescription] = useState(g.description);
  const [roles, setRoles] = useState<string[]>(g.roles);
  const action = useAction();
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const body = { name: name.trim(), description: description.trim(), roles };
    if (await action.run(() => api('PATCH', `/api/admin/groups/${g.id}`, body))) await props.onDone(true);
  };

  return (
    <form class="edit-in-place" id={prefix} onSubmit={(e) => void submit(e)} aria-label={t('edit.groupLabel', { name: g.name })}>
      <div class="filter-grid">
        <Field id={`${prefix}-name`} label={t('admin.groupName')}>
          <input id={`${prefix}-name`} ref={first} required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field id={`${prefix}-description`} label={t('admin.description')}>
          <input id={`${prefix}-description`} maxLength={500} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </Field>
      </div>
      <CheckboxSet legend={t('admin.groupRoles')} options={ROLE_NAMES} chosen={roles as Array<(typeof ROLE_NAMES)[number]>} onChange={(update) => setRoles((all) => update(all as Array<(typeof ROLE_NAMES)[number]>))} label={roleLabel} />
      <ErrorMessage error={action.error} />
      <div class="actions">
        <button type="submit" class="small" disabled={action.busy}>{t('admin.save')}</button>
        <button type="button" class="secondary small" onClick={() => void props.onDone(false)}>{t('ui.cancel')}</button>
      </div>
    </form>
  );
}
