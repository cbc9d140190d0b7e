import { useEffect, useState } from 'preact/hooks';
import { api, describeError, query } from '../api.js';
import { usePageHeading, useTitle } from '../focus.js';
import { SignedInFrame, type SignedInProps } from '../frame.js';
import { dateTimeText, durationText, t } from '../i18n/index.js';
import { Command, Field, isoFromLocal, Pager, useFilteredSearch } from '../ui.js';
import { DataTable } from '../data-table.js';

/** A recording's metadata (`GET /api/recordings`, docs/api.md). */
interface Recording {
  id: string;
  sessionId: string;
  assetId: string;
  userId: string;
  startedAt: string;
  endedAt: string | null;
  state: 'recording' | 'sealed';
  complete: boolean | null;
  incompleteReason: string | null;
  events: number;
  durationMs: number;
  legalHold: boolean;
}

interface Filters {
  userId: string;
  assetId: string;
  from: string;
  to: string;
  q: string;
}

const EMPTY: Filters = { userId: '', assetId: '', from: '', to: '', q: '' };

/** Where a recording is replayed: the product's replay page (web/replay), outside this app. */
export const replayUrl = (id: string) => `/recordings/${encodeURIComponent(id)}/replay`;

/** Its evidence bundle as one .tar (GET /api/recordings/:id/evidence): a plain link, the session cookie authenticates it. */
const evidenceUrl = (id: string) => `/api/recordings/${encodeURIComponent(id)}/evidence`;

/** Names for the filters' lists and the table: people and assets, as the administration API lists them (auditors may read both). */
function useNames() {
  const [users, setUsers] = useState<Array<{ id: string; username: string; displayName: string }>>([]);
  const [assets, setAssets] = useState<Array<{ id: string; name: string }>>([]);
  useEffect(() => {
    api<{ users: typeof users }>('GET', '/api/admin/users').then((r) => setUsers(r.users), () => setUsers([]));
    api<{ assets: typeof assets }>('GET', '/api/admin/assets').then((r) => setAssets(r.assets), () => setAssets([]));
  }, []);
  return { users, assets };
}

/** The auditor's desk, recordings: find one by user, asset, time and text; replay it on the replay page. */
export function RecordingSearch(props: SignedInProps) {
  const { pages, result, error, busy, search, clear, field } = useFilteredSearch({
    empty: EMPTY,
    idPrefix: 'recordings',
    fetcher: (filters: Filters, cursor: string | null) =>
      api<{ recordings: Recording[]; nextCursor: string | null }>(
        'GET',
        `/api/recordings${query({ userId: filters.userId, assetId: filters.assetId, from: isoFromLocal(filters.from), to: isoFromLocal(filters.to), q: filters.q.trim(), limit: 50, cursor })}`,
      ),
    onSignedOut: props.onSignedOut,
  });
  const names = useNames();
  const heading = usePageHeading();
  useTitle(t('recordings.title'));
  const userName = (id: string) => {
    const user = names.users.find((u) => u.id === id);
    return user ? user.displayName || user.username : id;
  };
  const assetName = (id: string) => names.assets.find((a) => a.id === id)?.name ?? id;

  return (
    <SignedInFrame who={props.who} onSignedOut={props.onSignedOut} current="/recordings">
      <h1 ref={heading} tabIndex={-1}>{t('recordings.title')}</h1>
      <p class="muted">{t('recordings.intro')}</p>

      <form class="filters" onSubmit={search} aria-label={t('recordings.filtersLabel')}>
        <div class="filter-grid">
          <Field id="recordings-userId" label={t('recordings.user')}>
            <select {...field('userId')}>
              <option value="">{t('recordings.anyone')}</option>
              {names.users.map((u) => (
                <option key={u.id} value={u.id}>{u.displayName && u.displayName !== u.username ? `${u.displayName} (${u.username})` : u.username}</option>
              ))}
            </select>
          </Field>
          <Field id="recordings-assetId" label={t('recordings.asset')}>
            <select {...field('assetId')}>
              <option value="">{t('recordings.anyAsset')}</option>
              {names.assets.map((a) => (
                <option key={a.id} value={a.id}>{a.name}</option>
              ))}
            </select>
          </Field>
          <Field id="recordings-from" label={t('recordings.from')}>
            <input type="datetime-local" {...field('from')} />
          </Field>
          <Field id="recordings-to" label={t('recordings.to')}>
            <input type="datetime-local" {...field('to')} />
          </Field>
          <Field id="recordings-q" label={t('recordings.text')} hint={t('recordings.textHint')}>
            <input type="search" maxLength={200} {...field('q')} aria-describedby="recordings-q-hint" />
          </Field>
        </div>
        <div class="actions">
          <button type="submit" id="recordings-search" disabled={busy}>{t('recordings.search')}</button>
          <button type="button" class="secondary" onClick={clear}>{t('recordings.clear')}</button>
        </div>
      </form>

      {error !== null && <p class="error" role="alert">{describeError(error)}</p>}
      <p class="muted" role="status">{busy ? t('recordings.loading') : result ? t('recordings.count', { count: result.recordings.length }) : ''}</p>

      {result && result.recordings.length > 0 && (
        <DataTable id="recordings" caption={t('recordings.caption')} columns={[t('recordings.started'), t('recordings.asset'), t('recordings.user'), t('recordings.duration'), t('recordings.state'), t('recordings.actions')]}>
          {result.recordings.map((rec) => (
            <tr key={rec.id} data-recording={rec.id} data-session={rec.sessionId}>
              <th scope="row">
                <time dateTime={rec.startedAt}>{dateTimeText(rec.startedAt)}</time>
              </th>
              <td>{assetName(rec.assetId)}</td>
              <td>{userName(rec.userId)}</td>
              <td class="number">{durationText(rec.durationMs)}</td>
              <td>
                <span class={`pill ${rec.state === 'recording' ? 'active' : ''}`}>
                  {rec.state === 'recording' ? t('recordings.running') : rec.complete === false ? t('recordings.incomplete') : t('recordings.sealed')}
                </span>
                {rec.legalHold && <span class="pill hold">{t('recordings.legalHold')}</span>}
                <span class="sub">{t('recordings.events', { count: rec.events })}</span>
              </td>
              <td>
                <a class="button small" href={replayUrl(rec.id)}>
                  {t('recordings.replay')}
                  <span class="visually-hidden"> ({`${assetName(rec.assetId)}, ${dateTimeText(rec.startedAt)}`})</span>
                </a>
                {rec.state === 'sealed' && (
                  <details class="evidence">
                    <summary>
                      {t('recordings.evidence')}
                      <span class="visually-hidden"> ({`${assetName(rec.assetId)}, ${dateTimeText(rec.startedAt)}`})</span>
                    </summary>
                    <p class="muted">{t('recordings.evidenceIntro')}</p>
                    <a class="button small" href={evidenceUrl(rec.id)} download data-evidence={rec.id}>
                      {t('recordings.evidenceDownload')}
                      <span class="visually-hidden"> ({`${assetName(rec.assetId)}, ${dateTimeText(rec.startedAt)}`})</span>
                    </a>
                    <Command text={`webasset recording verify evidence-${rec.id}.tar`} label={t('recordings.evidenceVerify')} />
                  </details>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {result && (
        <Pager
          id="recordings-pager"
          page={pages.page}
          hasNext={result.nextCursor !== null}
          busy={busy}
          onPrevious={pages.previous}
          onNext={() => result.nextCursor && pages.next(result.nextCursor)}
        />
      )}
    </SignedInFrame>
  );
}
