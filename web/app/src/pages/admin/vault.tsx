import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api.js';
import { dateTimeText, t } from '../../i18n/index.js';
import { useAction, useLoad, type SectionProps, type VaultEntry } from './common.js';
import { ErrorMessage, Field } from '../../ui.js';
import { DataTable } from '../../data-table.js';
import { VaultHistory } from './vault-history.js';

/** A field being typed: its name and value live in this form only, and are cleared once saved. */
interface FieldRow {
  key: number;
  name: string;
  value: string;
}

/** Vault entries, write-only: metadata and age; set or rotate fields (a new version). A value is never shown or prefilled. */
export function VaultSection(props: SectionProps) {
  const entries = useLoad(() => api<{ entries: VaultEntry[] }>('GET', '/api/admin/vault').then((r) => r.entries), props);
  const [target, setTarget] = useState<string>('');
  const [notice, setNotice] = useState<string | null>(null);
  const [history, setHistory] = useState<string | null>(null);

  return (
    <>
      <p class="muted">{t('admin.vaultIntro')}</p>
      <SetFieldsForm
        key={target}
        entryId={target}
        onSaved={async (id, version) => {
          setNotice(t('admin.vaultSaved', { id, version }));
          setTarget('');
          await entries.reload();
        }}
      />
      <p class="notice" role="status" hidden={notice === null}>{notice ?? ''}</p>
      <ErrorMessage error={entries.error} />
      {entries.data && entries.data.length === 0 && <p class="muted">{t('admin.noVaultEntries')}</p>}
      {entries.data && entries.data.length > 0 && (
        <DataTable id="vault" caption={t('admin.vaultCaption')} columns={[t('admin.entry'), t('admin.fields'), t('admin.version'), t('admin.setBy'), t('admin.age'), t('sessions.actions')]}>
          {entries.data.map((entry) => (
            <tr key={entry.id} data-entry={entry.id}>
              <th scope="row">{entry.id}</th>
              <td>{entry.fields.join(', ')}</td>
              <td class="number">{entry.version}</td>
              <td>
                {entry.setBy.name ?? entry.setBy.id}
                <span class="sub">
                  <time dateTime={entry.setAt}>{dateTimeText(entry.setAt)}</time>
                </span>
              </td>
              <td>
                {t('admin.ageDays', { age: entry.ageDays, max: entry.maxAgeDays })}
                {entry.stale && <span class="pill outcome-denied stale">{t('admin.stale')}</span>}
              </td>
              <td>
                <div class="row-actions">
                  <button type="button" class="secondary small" onClick={() => setTarget(entry.id)} aria-label={t('admin.rotateEntry', { id: entry.id })}>
                    {t('admin.rotate')}
                  </button>
                  <button type="button" class="secondary small" aria-expanded={history === entry.id} onClick={() => setHistory(history === entry.id ? null : entry.id)} aria-label={t('vaultHistory.showNamed', { id: entry.id })}>
                    {t('vaultHistory.show')}
                  </button>
                </div>
                {history === entry.id && <VaultHistory entryId={entry.id} onUnauthenticated={props.onUnauthenticated} />}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}

let nextKey = 1;

function SetFieldsForm(props: { entryId: string; onSaved: (id: string, version: number) => Promise<void> }) {
  const [id, setId] = useState(props.entryId);
  const [rows, setRows] = useState<FieldRow[]>(() => [{ key: nextKey++, name: props.entryId ? '' : 'username', value: '' }]);
  const [keepOthers, setKeepOthers] = useState(true);
  const [maxAge, setMaxAge] = useState('');
  const { error, busy, run } = useAction();

  const form = useRef<HTMLFormElement>(null);
  // "Set or rotate" on a row opens this form above the table: the first field name takes the focus.
  useEffect(() => {
    if (props.entryId) form.current?.querySelector<HTMLInputElement>('input[id^="vault-field-"]')?.focus();
  }, [props.entryId]);
  const update = (key: number, change: Partial<FieldRow>) => setRows((all) => all.map((r) => (r.key === key ? { ...r, ...change } : r)));
  const submit = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      const fields = Object.fromEntries(rows.filter((r) => r.name.trim() !== '').map((r) => [r.name.trim(), r.value]));
      const body = { fields, merge: keepOthers, ...(maxAge !== '' ? { maxAgeDays: Number(maxAge) } : {}) };
      const saved = await api<VaultEntry>('PUT', `/api/admin/vault/${encodeURIComponent(id.trim())}`, body);
      setRows([{ key: nextKey++, name: '', value: '' }]);
      await props.onSaved(saved.id, saved.version);
    });
  };

  return (
    <details class="panel form-panel" open={props.entryId !== ''}>
      <summary>{props.entryId ? t('admin.rotateEntry', { id: props.entryId }) : t('admin.setEntry')}</summary>
      <form ref={form} onSubmit={(e) => void submit(e)} id="vault-form" autocomplete="off">
        <div class="filter-grid">
          <Field id="vault-id" label={t('admin.entry')}>
            <input id="vault-id" required maxLength={64} value={id} readOnly={props.entryId !== ''} onInput={(e) => setId(e.currentTarget.value)} />
          </Field>
          <Field id="vault-max-age" label={t('admin.maxAgeDays')} hint={t('admin.maxAgeHint')}>
            <input id="vault-max-age" type="number" min={1} value={maxAge} onInput={(e) => setMaxAge(e.currentTarget.value)} aria-describedby="vault-max-age-hint" />
          </Field>
        </div>
        {rows.map((row, i) => (
          <div class="field-row" key={row.key}>
            <Field id={`vault-field-${row.key}`} label={t('admin.fieldName', { n: i + 1 })}>
              <input id={`vault-field-${row.key}`} required maxLength={64} value={row.name} onInput={(e) => update(row.key, { name: e.currentTarget.value })} />
            </Field>
            <Field id={`vault-value-${row.key}`} label={t('admin.fieldValue', { n: i + 1 })}>
              <input id={`vault-value-${row.key}`} type="password" required autocomplete="new-password" value={row.value} onInput={(e) => update(row.key, { value: e.currentTarget.value })} />
            </Field>
            {rows.length > 1 && (
              <button type="button" class="secondary small" onClick={() => setRows((all) => all.filter((r) => r.key !== row.key))} aria-label={t('admin.removeField', { n: i + 1 })}>
                {t('admin.remove')}
              </button>
            )}
          </div>
        ))}
        <div class="actions">
          <button type="button" class="secondary small" onClick={() => setRows((all) => [...all, { key: nextKey++, name: '', value: '' }])}>{t('admin.addField')}</button>
        </div>
        <label class="check">
          <input type="checkbox" checked={keepOthers} onChange={(e) => setKeepOthers(e.currentTarget.checked)} />
          {t('admin.keepOtherFields')}
        </label>
        <ErrorMessage error={error} />
        <div class="actions">
          <button type="submit" disabled={busy}>{t('admin.saveEntry')}</button>
        </div>
      </form>
    </details>
  );
}
