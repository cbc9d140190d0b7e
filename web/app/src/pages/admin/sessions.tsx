import { useEffect, useState } from 'preact/hooks';
import { api, type BrowserSession } from '../../api.js';
import { dateTimeText, durationText, hasMessage, t } from '../../i18n/index.js';
import { ConfirmPanel, ErrorMessage } from '../../ui.js';
import { liveViewUrl } from '../launcher.js';
import { useLoad, userName, type AdminAsset, type AdminUser, type SectionProps } from './common.js';
import { DataTable } from '../../data-table.js';

/** Live browser sessions of people and agents (`GET /api/sessions?all=true`): watch one read-only, end one with a reason. */
export function LiveSessionsSection(props: SectionProps) {
  const sessions = useLoad(() => api<{ sessions: BrowserSession[] }>('GET', '/api/sessions?all=true').then((r) => r.sessions.filter((s) => s.state !== 'ended')), props);
  const users = useLoad(() => api<{ users: AdminUser[] }>('GET', '/api/admin/users').then((r) => r.users), props);
  const assets = useLoad(() => api<{ assets: AdminAsset[] }>('GET', '/api/admin/assets').then((r) => r.assets), props);
  const [ending, setEnding] = useState<string | null>(null);
  const [ended, setEnded] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());

  // A session may start or end at any moment: the list is read again every 10 s, durations move every second.
  useEffect(() => {
    const reload = window.setInterval(() => void sessions.reload(), 10_000);
    const tick = window.setInterval(() => setNow(Date.now()), 1000);
    return () => {
      window.clearInterval(reload);
      window.clearInterval(tick);
    };
  }, [sessions.reload]);

  const assetName = (id: string) => assets.data?.find((a) => a.id === id)?.name ?? id;
  const list = sessions.data;

  return (
    <>
      <p class="muted">{t('admin.sessionsIntro')}</p>
      <div class="actions">
        <button type="button" class="secondary small" id="sessions-refresh" onClick={() => void sessions.reload()}>{t('admin.refresh')}</button>
      </div>
      <ErrorMessage error={sessions.error} />
      <p class="notice" role="status" hidden={ended === null}>{ended ?? ''}</p>
      {!list && sessions.error === null && <p class="muted">{t('app.loading')}</p>}
      {list && list.length === 0 && <p class="muted" id="no-live-sessions">{t('admin.noLiveSessions')}</p>}
      {list && list.length > 0 && (
        <DataTable id="live-sessions" caption={t('admin.sessionsCaption')} columns={[t('admin.who'), t('sessions.portal'), t('sessions.started'), t('sessions.duration'), t('sessions.state'), t('sessions.actions')]}>
          {list.map((s) => {
            const who = userName(users.data, s.userId ?? '');
            const label = `${who}, ${assetName(s.assetId)}`;
            return (
              <tr key={s.id} data-session={s.id}>
                <th scope="row">
                  {who}
                  <span class="sub">{s.principalKind === 'agent' ? t('admin.kindAgent') : t('admin.kindPerson')}</span>
                </th>
                <td>{assetName(s.assetId)}</td>
                <td>
                  <time dateTime={s.createdAt}>{dateTimeText(s.createdAt)}</time>
                </td>
                <td class="number">{durationText(Math.max(0, now - Date.parse(s.createdAt)))}</td>
                <td>
                  <span class={`pill ${s.state}`}>{hasMessage(`state.${s.state}`) ? t(`state.${s.state}`) : s.state}</span>
                </td>
                <td>
                  <div class="row-actions">
                    <a class="button small secondary" href={liveViewUrl(s.id)}>
                      {t('admin.watch')}
                      <span class="visually-hidden"> ({label})</span>
                    </a>
                    <button type="button" class="small danger" onClick={() => setEnding(s.id)} aria-label={t('admin.endSessionOf', { name: label })}>
                      {t('admin.endSession')}
                    </button>
                  </div>
                  {ending === s.id && (
                    <ConfirmPanel
                      id={`end-${s.id}`}
                      message={t('admin.endSessionConfirm', { name: label })}
                      confirmLabel={t('admin.endSession')}
                      reason="required"
                      onCancel={() => setEnding(null)}
                      onConfirm={async (reason) => {
                        await api('DELETE', `/api/sessions/${encodeURIComponent(s.id)}`, { reason });
                        setEnding(null);
                        setEnded(t('admin.sessionEnded', { name: label }));
                        await sessions.reload();
                      }}
                    />
                  )}
                </td>
              </tr>
            );
          })}
        </DataTable>
      )}
    </>
  );
}
