import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, query } from '../api.js';
import { usePageHeading, useTitle } from '../focus.js';
import { SignedInFrame, type SignedInProps } from '../frame.js';
import { dateTimeText, t } from '../i18n/index.js';
import { Command, ErrorMessage, Field, isoFromLocal, Pager, useFilteredSearch } from '../ui.js';
import { DataTable } from '../data-table.js';

/** One event of the trail (`GET /api/audit`, docs/audit-events.md). */
interface AuditEvent {
  seq: number;
  id: string;
  time: string;
  actor: { kind: string; id: string; name: string | null };
  action: string;
  target: { kind: string; id: string } | null;
  outcome: 'success' | 'failure' | 'denied';
  sourceIp: string | null;
  requestId: string | null;
  nodeId: string;
  details: Record<string, unknown>;
  hash: string;
}

/** The search form: what the API filters on (docs/api.md, GET /api/audit). It has no free-text search. */
interface Filters {
  actor: string;
  action: string;
  outcome: '' | AuditEvent['outcome'];
  from: string;
  to: string;
  targetKind: string;
  targetId: string;
  order: 'desc' | 'asc';
  limit: string;
}

const EMPTY: Filters = { actor: '', action: '', outcome: '', from: '', to: '', targetKind: '', targetId: '', order: 'desc', limit: '50' };

const OUTCOMES: Record<AuditEvent['outcome'], () => string> = {
  success: () => t('audit.outcomeSuccess'),
  failure: () => t('audit.outcomeFailure'),
  denied: () => t('audit.outcomeDenied'),
};

/** The search's filters as the API names them (GET /api/audit and its export). */
function filterParams(f: Filters) {
  return {
    actor: f.actor.trim(),
    action: f.action.trim(),
    outcome: f.outcome,
    from: isoFromLocal(f.from),
    to: isoFromLocal(f.to),
    targetKind: f.targetKind.trim(),
    targetId: f.targetId.trim(),
  };
}

/**
 * The download of the applied search (every page): a plain link, so the browser saves the file as it
 * streams. The session cookie authenticates it; the URL holds only the format and the filters.
 */
const exportUrl = (format: 'ndjson' | 'csv', f: Filters) => `/api/audit/export${query({ format, ...filterParams(f) })}`;

/** `GET /api/audit/verification` (docs/api.md). */
interface VerificationStatus {
  running: { startedAt: string } | null;
  last: {
    ok: boolean;
    checkedAt: string;
    by: { id: string; name: string | null };
    fromSeq: number;
    throughSeq: number | null;
    events: number;
    checkpoints: number;
    lastCheckpoint: { seq: number; time: string } | null;
    failure: { seq: number; reason: string } | null;
  } | null;
}

/** While a verification runs, how often its status is read again. */
const VERIFY_POLL_MS = 2000;

/** The chain verification status, and "Verify now": the server walks the whole trail in the background. */
function VerificationPanel(props: { onSignedOut: SignedInProps['onSignedOut'] }) {
  const [status, setStatus] = useState<VerificationStatus | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [asking, setAsking] = useState(false);
  const running = status?.running ?? null;

  const load = (request: Promise<VerificationStatus>) =>
    request.then(
      (next) => {
        setStatus(next);
        setError(null);
      },
      (failure: unknown) => {
        if (failure instanceof ApiError && failure.status === 401) props.onSignedOut(() => t('app.signedOut'));
        else setError(failure);
      },
    );

  useEffect(() => void load(api<VerificationStatus>('GET', '/api/audit/verification')), []);
  useEffect(() => {
    if (!running) return undefined;
    const timer = setTimeout(() => void load(api<VerificationStatus>('GET', '/api/audit/verification')), VERIFY_POLL_MS);
    return () => clearTimeout(timer);
  }, [status]);

  const verifyNow = () => {
    setAsking(true);
    void load(api<VerificationStatus>('POST', '/api/audit/verification')).finally(() => setAsking(false));
  };

  const last = status?.last ?? null;
  return (
    <div id="audit-verification">
      <p id="audit-verification-status" role="status" class={last && !last.ok ? 'error' : undefined}>
        {running
          ? t('audit.verifyRunning', { time: dateTimeText(running.startedAt) })
          : !status
            ? ''
            : !last
              ? t('audit.verifyNever')
              : last.ok
                ? t('audit.verifyIntact', { events: last.events, from: last.fromSeq, through: last.throughSeq ?? 0, checkpoints: last.checkpoints })
                : t('audit.verifyBroken', { seq: last.failure?.seq ?? 0, reason: last.failure?.reason ?? '' })}
      </p>
      {last && (
        <p class="muted">
          {t('audit.verifyCheckedAt', { time: dateTimeText(last.checkedAt), who: last.by.name ?? last.by.id })}{' '}
          {last.lastCheckpoint ? t('audit.verifyLastCheckpoint', { seq: last.lastCheckpoint.seq, time: dateTimeText(last.lastCheckpoint.time) }) : t('audit.verifyNoCheckpoint')}
        </p>
      )}
      <ErrorMessage error={error} />
      <div class="actions">
        <button type="button" id="audit-verify-now" onClick={verifyNow} disabled={asking || running !== null}>{t('audit.verifyNow')}</button>
      </div>
    </div>
  );
}

/** The state of the trail's writer, from /readyz (public): whether events reach the database now. Not a verification. */
function useTrailState(): string | null {
  const [state, setState] = useState<string | null>(null);
  useEffect(() => {
    fetch('/readyz', { cache: 'no-store' })
      .then((r) => r.json() as Promise<{ checks?: { auditTrail?: string } }>)
      .then((body) => setState(body.checks?.auditTrail ?? null))
      .catch(() => setState(null));
  }, []);
  return state;
}

/** The auditor's desk, audit trail: search with filters, page by page; export and verification as the server's commands. */
export function AuditSearch(props: SignedInProps) {
  const { applied, pages, result, error, busy, search, clear, field } = useFilteredSearch({
    empty: EMPTY,
    idPrefix: 'audit',
    fetcher: (filters: Filters, cursor: string | null) =>
      api<{ events: AuditEvent[]; nextCursor: string | null }>(
        'GET',
        `/api/audit${query({
          ...filterParams(filters),
          order: filters.order,
          limit: filters.limit,
          cursor,
        })}`,
      ),
    onSignedOut: props.onSignedOut,
  });
  const trail = useTrailState();
  const heading = usePageHeading();
  useTitle(t('audit.title'));

  return (
    <SignedInFrame who={props.who} onSignedOut={props.onSignedOut} current="/audit">
      <h1 ref={heading} tabIndex={-1}>{t('audit.title')}</h1>
      <p class="muted">{t('audit.intro')}</p>

      <form class="filters" onSubmit={search} aria-label={t('audit.filtersLabel')}>
        <div class="filter-grid">
          <Field id="audit-actor" label={t('audit.actor')} hint={t('audit.actorHint')}>
            <input type="text" {...field('actor')} aria-describedby="audit-actor-hint" />
          </Field>
          <Field id="audit-action" label={t('audit.action')} hint={t('audit.actionHint')}>
            <input type="text" {...field('action')} aria-describedby="audit-action-hint" />
          </Field>
          <Field id="audit-outcome" label={t('audit.outcome')}>
            <select {...field('outcome')}>
              <option value="">{t('audit.outcomeAny')}</option>
              {(Object.keys(OUTCOMES) as Array<AuditEvent['outcome']>).map((o) => (
                <option key={o} value={o}>{OUTCOMES[o]()}</option>
              ))}
            </select>
          </Field>
          <Field id="audit-from" label={t('audit.from')}>
            <input type="datetime-local" {...field('from')} />
          </Field>
          <Field id="audit-to" label={t('audit.to')}>
            <input type="datetime-local" {...field('to')} />
          </Field>
          <Field id="audit-targetKind" label={t('audit.targetKind')}>
            <input type="text" {...field('targetKind')} />
          </Field>
          <Field id="audit-targetId" label={t('audit.targetId')}>
            <input type="text" {...field('targetId')} />
          </Field>
          <Field id="audit-order" label={t('audit.order')}>
            <select {...field('order')}>
              <option value="desc">{t('audit.newestFirst')}</option>
              <option value="asc">{t('audit.oldestFirst')}</option>
            </select>
          </Field>
          <Field id="audit-limit" label={t('audit.pageSize')}>
            <select {...field('limit')}>
              {['25', '50', '100', '200'].map((n) => (
                <option key={n} value={n}>{n}</option>
              ))}
            </select>
          </Field>
        </div>
        <div class="actions">
          <button type="submit" id="audit-search" disabled={busy}>{t('audit.search')}</button>
          <button type="button" class="secondary" onClick={clear}>{t('audit.clear')}</button>
        </div>
      </form>

      <ErrorMessage error={error} />
      <p class="muted" role="status">{busy ? t('audit.loading') : result ? t('audit.count', { count: result.events.length }) : ''}</p>

      {result && result.events.length > 0 && (
        <DataTable id="audit-events" caption={t('audit.caption')} columns={[t('audit.time'), t('audit.actor'), t('audit.action'), t('audit.target'), t('audit.outcome'), t('audit.more')]}>
          {result.events.map((event) => (
            <tr key={event.id} data-seq={event.seq}>
              <th scope="row">
                <time dateTime={event.time}>{dateTimeText(event.time)}</time>
                <span class="sub">#{event.seq}</span>
              </th>
              <td>
                {event.actor.name ?? event.actor.id}
                <span class="sub">{event.actor.id}</span>
              </td>
              <td><code>{event.action}</code></td>
              <td>{event.target ? <span class="sub-inline">{`${event.target.kind}: ${event.target.id}`}</span> : <span class="muted">—</span>}</td>
              <td>
                <span class={`pill outcome-${event.outcome}`}>{OUTCOMES[event.outcome]?.() ?? event.outcome}</span>
              </td>
              <td>
                <details>
                  <summary>
                    {t('audit.details')}
                    <span class="visually-hidden"> #{event.seq}</span>
                  </summary>
                  <pre>{JSON.stringify({ details: event.details, sourceIp: event.sourceIp, requestId: event.requestId, nodeId: event.nodeId, hash: event.hash }, null, 2)}</pre>
                </details>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {result && (
        <Pager
          id="audit-pager"
          page={pages.page}
          hasNext={result.nextCursor !== null}
          busy={busy}
          onPrevious={pages.previous}
          onNext={() => result.nextCursor && pages.next(result.nextCursor)}
        />
      )}

      <section class="panel" aria-labelledby="audit-export-title">
        <h2 id="audit-export-title">{t('audit.exportTitle')}</h2>
        <p>{t('audit.exportIntro')}</p>
        <div class="actions">
          <a class="button" id="audit-export-ndjson" href={exportUrl('ndjson', applied)} download>{t('audit.exportNdjson')}</a>
          <a class="button secondary" id="audit-export-csv" href={exportUrl('csv', applied)} download>{t('audit.exportCsv')}</a>
        </div>
        <h2 id="audit-verify-title">{t('audit.verifyTitle')}</h2>
        <p>{t('audit.verifyIntro')}</p>
        <VerificationPanel onSignedOut={props.onSignedOut} />
        <p id="audit-trail-state">
          {trail === 'ok' ? t('audit.trailOk') : trail === 'spooling' || trail === 'draining' ? t('audit.trailSpooling') : trail === 'closed' ? t('audit.trailClosed') : t('audit.trailUnknown')}
        </p>
        <p>{t('audit.verifyOffline')}</p>
        <Command text="webasset audit verify" label={t('audit.verifyTrail')} />
        <Command text="webasset audit verify --file audit-export.ndjson" label={t('audit.verifyFile')} />
      </section>
    </SignedInFrame>
  );
}
