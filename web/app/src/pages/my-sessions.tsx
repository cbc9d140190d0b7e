import { useEffect, useState } from 'preact/hooks';
import { api, describeError, type Asset, type BrowserSession } from '../api.js';
import { usePageHeading, useTitle } from '../focus.js';
import { SignedInFrame, type SignedInProps } from '../frame.js';
import { dateTimeText, durationText, hasMessage, t } from '../i18n/index.js';
import { DataTable } from '../data-table.js';
import { usePolledLoad } from '../polled-load.js';
import { liveViewUrl } from './launcher.js';

/** A session's state, in words. */
function stateLabel(state: BrowserSession['state']): string {
  const key = `state.${state}`;
  return hasMessage(key) ? t(key) : state;
}

/** Why a session ended, in words (src/sessions/types.ts, END_REASONS); a reason added later reads "Ended". */
function endReasonLabel(reason: string | null): string {
  const key = `endReason.${reason ?? ''}`;
  return hasMessage(key) ? t(key) : t('endReason.unknown');
}

/** From its start to its end, or to now while it runs. */
function durationOf(session: BrowserSession, now: number): number {
  const end = session.endedAt ? Date.parse(session.endedAt) : now;
  return Math.max(0, end - Date.parse(session.createdAt));
}

/** "My sessions": the caller's current and past sessions (`GET /api/sessions`, newest first); live ones link to their view. */
export function MySessions(props: SignedInProps) {
  const [sessions, setSessions] = useState<BrowserSession[] | null>(null);
  const [names, setNames] = useState<Record<string, string>>({});
  const [now, setNow] = useState(() => Date.now());
  const heading = usePageHeading();
  useTitle(t('sessions.title'));

  // Loaded now and every 30 s (a live session may end meanwhile); running durations move on every second.
  const { error } = usePolledLoad(
    async () => {
      // Names come from the launcher's list; a portal no longer shared with the caller shows its id.
      const [mine, list] = await Promise.all([api<{ sessions: BrowserSession[] }>('GET', '/api/sessions'), api<{ assets: Asset[] }>('GET', '/api/assets')]);
      setSessions(mine.sessions);
      setNames(Object.fromEntries(list.assets.map((a) => [a.id, a.name])));
      setNow(Date.now());
    },
    30_000,
    props.onSignedOut,
  );
  useEffect(() => {
    const tick = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(tick);
  }, []);

  return (
    <SignedInFrame who={props.who} onSignedOut={props.onSignedOut} current="/my-sessions">
      <h1 ref={heading} tabIndex={-1}>{t('sessions.title')}</h1>
      <p class="muted">{t('sessions.intro')}</p>
      {error !== null && <p class="error" role="alert">{describeError(error)}</p>}
      {!sessions && error === null && <p class="muted" role="status">{t('sessions.loading')}</p>}
      {sessions && sessions.length === 0 && <p class="muted">{t('sessions.none')}</p>}
      {sessions && sessions.length > 0 && (
        <DataTable
          id="sessions"
          class="sessions"
          caption={t('sessions.caption')}
          columns={[t('sessions.portal'), t('sessions.started'), t('sessions.duration'), t('sessions.state'), t('sessions.ending'), <span class="visually-hidden">{t('sessions.actions')}</span>]}
        >
          {sessions.map((session) => {
            const name = names[session.assetId] ?? session.assetId;
            const live = session.state !== 'ended';
            return (
              <tr key={session.id} data-session={session.id} class={live ? 'live' : undefined}>
                <th scope="row">{name}</th>
                <td>
                  <time dateTime={session.createdAt}>{dateTimeText(session.createdAt)}</time>
                </td>
                <td class="number">{durationText(durationOf(session, now))}</td>
                <td>
                  <span class={`pill ${session.state}`}>{stateLabel(session.state)}</span>
                </td>
                <td class="reason">
                  {live ? <span class="muted">{t('sessions.stillRunning')}</span> : endReasonLabel(session.endReason)}
                  {session.endMessage && <span class="end-message">{t('sessions.note', { message: session.endMessage })}</span>}
                </td>
                <td>
                  {live && (
                    <a class="button small" href={liveViewUrl(session.id)}>
                      {t('sessions.openLive')}
                      <span class="visually-hidden"> ({name})</span>
                    </a>
                  )}
                </td>
              </tr>
            );
          })}
        </DataTable>
      )}
    </SignedInFrame>
  );
}
