// The alerts raised (bursts of failed sign-ins), newest first: GET /api/admin/alerts, which reads them from the audit trail.
import { useEffect, useRef } from 'preact/hooks';
import { api, query } from '../../api.js';
import { DataTable } from '../../data-table.js';
import { dateTimeText, t } from '../../i18n/index.js';
import { ErrorMessage, Pager, useCursorPages } from '../../ui.js';
import { useLoad, type SectionProps } from './common.js';

interface Alert {
  id: string;
  time: string;
  kind: string;
  severity: string;
  summary: string;
  subject: { kind: string; id: string };
  count: number | null;
  sourceIp: string | null;
}

function kindText(kind: string): string {
  return kind === 'brute_force' ? t('alerts.bruteForce') : kind;
}

function subjectText(subject: Alert['subject']): string {
  if (subject.kind === 'account') return t('alerts.subjectAccount', { id: subject.id });
  if (subject.kind === 'ip') return t('alerts.subjectIp', { id: subject.id });
  return `${subject.kind} ${subject.id}`;
}

function severityText(severity: string): string {
  switch (severity) {
    case 'low':
      return t('alerts.severityLow');
    case 'medium':
      return t('alerts.severityMedium');
    case 'high':
      return t('alerts.severityHigh');
    case 'critical':
      return t('alerts.severityCritical');
    default:
      return severity;
  }
}

export function AlertsSection(props: SectionProps) {
  const pages = useCursorPages();
  const page = useLoad(() => api<{ alerts: Alert[]; nextCursor: string | null }>('GET', `/api/admin/alerts${query({ cursor: pages.cursor })}`), props);
  // The loader reads the cursor when it runs: the first page loads with the section, the others when the cursor changes.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) first.current = false;
    else void page.reload();
  }, [pages.cursor]);

  return (
    <>
      <p class="muted">{t('alerts.intro')}</p>
      <div class="actions">
        <button type="button" class="secondary small" id="alerts-refresh" onClick={() => void page.reload()}>{t('alerts.refresh')}</button>
      </div>
      <ErrorMessage error={page.error} />
      {page.data && (
        <DataTable id="alerts" caption={t('alerts.caption')} columns={[t('alerts.time'), t('alerts.kind'), t('alerts.subject'), t('alerts.count'), t('alerts.severity')]}>
          {page.data.alerts.length === 0 && (
            <tr id="no-alerts">
              <td colSpan={5} class="muted">
                {t('alerts.none')}
              </td>
            </tr>
          )}
          {page.data.alerts.map((a) => (
            <tr key={a.id} data-alert={a.id}>
              <th scope="row">
                <time dateTime={a.time}>{dateTimeText(a.time)}</time>
              </th>
              <td>
                {kindText(a.kind)}
                <span class="sub" lang="en">{a.summary}</span>
              </td>
              <td class="subject">{subjectText(a.subject)}</td>
              <td class="number">{a.count ?? '—'}</td>
              <td>
                <span class={`pill ${a.severity === 'high' || a.severity === 'critical' ? 'outcome-failure' : 'outcome-denied'}`}>{severityText(a.severity)}</span>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <Pager
        id="alerts-pages"
        page={pages.page}
        hasNext={Boolean(page.data?.nextCursor)}
        onPrevious={pages.previous}
        onNext={() => {
          if (page.data?.nextCursor) pages.next(page.data.nextCursor);
        }}
      />
    </>
  );
}
