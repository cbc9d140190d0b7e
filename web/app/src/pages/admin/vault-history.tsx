// A vault entry's versions: who set which fields when, and when each was superseded. Metadata only, never a value.
import { api } from '../../api.js';
import { DataTable } from '../../data-table.js';
import { dateTimeText, t } from '../../i18n/index.js';
import { ErrorMessage } from '../../ui.js';
import { useLoad, type SectionProps } from './common.js';

interface Version {
  version: number;
  fields: string[];
  setBy: { kind: string; id: string; name: string | null };
  setAt: string;
  supersededAt: string | null;
  current: boolean;
}

export function VaultHistory(props: SectionProps & { entryId: string }) {
  const history = useLoad(() => api<{ versions: Version[] }>('GET', `/api/admin/vault/${encodeURIComponent(props.entryId)}/history`).then((r) => r.versions), props);
  return (
    <div class="history" id={`vault-history-${props.entryId}`}>
      <ErrorMessage error={history.error} />
      {history.data && (
        <DataTable id={`vault-versions-${props.entryId}`} caption={t('vaultHistory.caption', { id: props.entryId })} columns={[t('admin.version'), t('admin.fields'), t('admin.setBy'), t('vaultHistory.superseded')]}>
          {[...history.data]
            .sort((a, b) => b.version - a.version)
            .map((v) => (
              <tr key={v.version}>
                <th scope="row" class="number">
                  {v.version}
                  {v.current && <span class="sub">{t('vaultHistory.current')}</span>}
                </th>
                <td>{v.fields.join(', ')}</td>
                <td>
                  {v.setBy.name ?? v.setBy.id}
                  <span class="sub">
                    <time dateTime={v.setAt}>{dateTimeText(v.setAt)}</time>
                  </span>
                </td>
                <td>{v.supersededAt ? <time dateTime={v.supersededAt}>{dateTimeText(v.supersededAt)}</time> : <span class="muted">—</span>}</td>
              </tr>
            ))}
        </DataTable>
      )}
    </div>
  );
}
