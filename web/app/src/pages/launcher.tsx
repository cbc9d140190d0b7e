import { useMemo, useState } from 'preact/hooks';
import { api, ApiError, describeError, type Asset, type BrowserSession } from '../api.js';
import { usePageHeading, useTitle } from '../focus.js';
import { SignedInFrame, type SignedInProps } from '../frame.js';
import { hasMessage, t } from '../i18n/index.js';
import { usePolledLoad } from '../polled-load.js';
import { followInApp, navigate, sessionRoute } from '../router.js';

/** What a card says about an asset, and whether it can be opened. */
interface CardState {
  label: string;
  tone: 'ok' | 'mine' | 'busy' | 'off';
}

/** Where the live view of a session is: the app's own page (the minimal viewer at `/sessions/{id}/view` stays as a fallback). */
export const liveViewUrl = (sessionId: string) => sessionRoute(sessionId);

/** Why an asset cannot be opened now, in words (`GET /api/assets`' `reason`). */
function unavailableLabel(reason: string | null): string {
  const key = `card.${reason ?? ''}`;
  return hasMessage(key) ? t(key) : t('card.unavailable');
}

/** The operator's home: the assets they may use, as cards; one click opens a session and goes to its live view. */
export function Launcher(props: SignedInProps) {
  const [assets, setAssets] = useState<Asset[] | null>(null);
  const [sessions, setSessions] = useState<BrowserSession[]>([]);
  const [query, setQuery] = useState('');
  const [opening, setOpening] = useState<string | null>(null);
  // Kept as errors, not text: a card's message follows a change of language.
  const [cardErrors, setCardErrors] = useState<Record<string, unknown>>({});
  const heading = usePageHeading();
  useTitle(t('launcher.title'));

  // Loaded now and every 30 s: a session may end meanwhile (idle timeout, an administrator), a time window open.
  const { error, reload: load } = usePolledLoad(
    async () => {
      const [list, mine] = await Promise.all([api<{ assets: Asset[] }>('GET', '/api/assets'), api<{ sessions: BrowserSession[] }>('GET', '/api/sessions')]);
      setAssets(list.assets);
      setSessions(mine.sessions.filter((s) => s.state !== 'ended'));
    },
    30_000,
    props.onSignedOut,
  );

  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    if (!assets) return [];
    if (q === '') return assets;
    return assets.filter((a) => [a.name, a.id, hostOf(a.url)].some((text) => text.toLowerCase().includes(q)));
  }, [assets, query]);

  const liveSessionOf = (assetId: string) => sessions.find((s) => s.assetId === assetId);

  const open = async (asset: Asset) => {
    setOpening(asset.id);
    setCardErrors(({ [asset.id]: _dropped, ...rest }) => rest);
    try {
      const session = await api<BrowserSession>('POST', '/api/sessions', { assetId: asset.id });
      navigate(liveViewUrl(session.id));
    } catch (e) {
      setOpening(null);
      setCardErrors((all) => ({ ...all, [asset.id]: e }));
      void load();
    }
  };

  const end = async (session: BrowserSession) => {
    try {
      await api('DELETE', `/api/sessions/${encodeURIComponent(session.id)}`);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'session_ended')) setCardErrors((all) => ({ ...all, [session.assetId]: e }));
    }
    void load();
  };

  const stateOf = (asset: Asset): CardState => {
    const live = liveSessionOf(asset.id);
    if (opening === asset.id) return { label: t('card.signingIn'), tone: 'busy' };
    if (live) return { label: live.state === 'active' ? t('card.inUse') : t('card.signingIn'), tone: 'mine' };
    if (!asset.available) return { label: unavailableLabel(asset.reason), tone: 'off' };
    if (credentialBusy(cardErrors[asset.id])) return { label: t('card.credentialBusy'), tone: 'busy' };
    return { label: t('card.available'), tone: 'ok' };
  };

  return (
    <SignedInFrame who={props.who} onSignedOut={props.onSignedOut} current="/">
      <div class="toolbar">
        <h1 ref={heading} tabIndex={-1}>{t('launcher.title')}</h1>
        <label class="search">
          <span class="visually-hidden">{t('launcher.search')}</span>
          <input type="search" id="search" placeholder={t('launcher.search')} value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        </label>
      </div>
      {error !== null && <p class="error" role="alert">{describeError(error)}</p>}
      {!assets && error === null && <p class="muted" role="status">{t('launcher.loading')}</p>}
      {assets && assets.length === 0 && <p class="muted">{t('launcher.none')}</p>}
      <p class="muted" role="status">{assets && assets.length > 0 && shown.length === 0 ? t('launcher.noMatch', { query }) : ''}</p>
      <ul class="cards" aria-label={t('launcher.listLabel')}>
        {shown.map((asset) => {
          const state = stateOf(asset);
          const live = liveSessionOf(asset.id);
          const cardError = cardErrors[asset.id];
          return (
            <li key={asset.id} class="card" data-asset={asset.id}>
              <div class="card-head">
                <span class="icon" aria-hidden="true">{asset.name.trim().charAt(0).toUpperCase() || '?'}</span>
                <div>
                  <h2>{asset.name}</h2>
                  <p class="host">{hostOf(asset.url)}</p>
                </div>
              </div>
              <p class={`state ${state.tone}`}>{state.label}</p>
              {cardError !== undefined && (
                <p class="error" role="alert">
                  {credentialBusy(cardError) ? t('launcher.credentialBusyError', { message: describeError(cardError) }) : describeError(cardError)}
                </p>
              )}
              <div class="actions">
                {live ? (
                  <>
                    <a class="button" href={liveViewUrl(live.id)} onClick={(e) => followInApp(e, liveViewUrl(live.id))}>{t('launcher.return')}</a>
                    <button type="button" class="secondary" onClick={() => void end(live)} aria-label={t('launcher.endLabel', { name: asset.name })}>
                      {t('launcher.end')}
                    </button>
                  </>
                ) : (
                  <button type="button" disabled={!asset.available || opening !== null} onClick={() => void open(asset)} aria-label={t('launcher.openLabel', { name: asset.name })}>
                    {opening === asset.id ? t('card.signingIn') : t('launcher.open')}
                  </button>
                )}
              </div>
            </li>
          );
        })}
      </ul>
    </SignedInFrame>
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function credentialBusy(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'credential_in_use';
}
