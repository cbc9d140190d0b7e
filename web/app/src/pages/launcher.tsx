import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, describeError, setCsrfToken, type Asset, type BrowserSession, type WhoAmI } from '../api.js';

interface Props {
  who: WhoAmI;
  onSignedOut: (notice: string) => void;
}

/** What a card says about an asset, and whether it can be opened. */
interface CardState {
  label: string;
  tone: 'ok' | 'mine' | 'busy' | 'off';
}

const UNAVAILABLE: Record<string, string> = {
  outside_time_window: 'Outside your time window',
  mfa_required: 'Needs a sign-in with MFA',
  max_concurrent_sessions: 'At your session limit',
};

/** Where the live view of a session is (the minimal viewer, until the UI has its own). */
export const liveViewUrl = (sessionId: string) => `/sessions/${encodeURIComponent(sessionId)}/view`;

/** The operator's home: the assets they may use, as cards; one click opens a session and goes to its live view. */
export function Launcher(props: Props) {
  const [assets, setAssets] = useState<Asset[] | null>(null);
  const [sessions, setSessions] = useState<BrowserSession[]>([]);
  const [query, setQuery] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [opening, setOpening] = useState<string | null>(null);
  const [cardErrors, setCardErrors] = useState<Record<string, string>>({});

  const signedOut = useRef(props.onSignedOut);
  signedOut.current = props.onSignedOut;

  const load = useCallback(async () => {
    try {
      const [list, mine] = await Promise.all([api<{ assets: Asset[] }>('GET', '/api/assets'), api<{ sessions: BrowserSession[] }>('GET', '/api/sessions')]);
      setAssets(list.assets);
      setSessions(mine.sessions.filter((s) => s.state !== 'ended'));
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) signedOut.current('Your session has ended. Sign in again.');
      else setError(describeError(e));
    }
  }, []);

  // Loaded now and every 30 s: a session may end meanwhile (idle timeout, an administrator), a time window open.
  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), 30_000);
    return () => window.clearInterval(timer);
  }, [load]);

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
      window.location.assign(liveViewUrl(session.id));
    } catch (e) {
      setOpening(null);
      setCardErrors((all) => ({ ...all, [asset.id]: describeOpenError(e) }));
      void load();
    }
  };

  const end = async (session: BrowserSession) => {
    try {
      await api('DELETE', `/api/sessions/${encodeURIComponent(session.id)}`);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'session_ended')) setCardErrors((all) => ({ ...all, [session.assetId]: describeError(e) }));
    }
    void load();
  };

  const signOut = async () => {
    try {
      const answer = await api<{ loggedOut: boolean; logoutUrl: string | null }>('POST', '/api/auth/logout');
      setCsrfToken(null);
      if (answer.logoutUrl) window.location.assign(answer.logoutUrl);
      else props.onSignedOut('You have signed out.');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) props.onSignedOut('You have signed out.');
      else setError(describeError(e));
    }
  };

  const stateOf = (asset: Asset): CardState => {
    const live = liveSessionOf(asset.id);
    if (opening === asset.id) return { label: 'Signing in…', tone: 'busy' };
    if (live) return { label: live.state === 'active' ? 'In use by you' : 'Signing in…', tone: 'mine' };
    if (!asset.available) return { label: UNAVAILABLE[asset.reason ?? ''] ?? 'Not available now', tone: 'off' };
    if (cardErrors[asset.id]?.startsWith('Credential busy')) return { label: 'Credential busy', tone: 'busy' };
    return { label: 'Available', tone: 'ok' };
  };

  return (
    <div class="page">
      <header class="topbar">
        <span class="brand">
          <span class="logo" aria-hidden="true">◆</span> WebAsset Controller
        </span>
        <span class="spacer" />
        <span class="who" id="who">{props.who.user.name}</span>
        <button type="button" class="secondary" id="sign-out" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main class="content">
        <div class="toolbar">
          <h1>Your portals</h1>
          <label class="search">
            <span class="visually-hidden">Search portals</span>
            <input type="search" id="search" placeholder="Search portals" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
          </label>
        </div>
        {error && <p class="error" role="alert">{error}</p>}
        {!assets && !error && <p class="muted" role="status">Loading your portals…</p>}
        {assets && assets.length === 0 && <p class="muted">No portal is shared with you yet. Ask an administrator for access.</p>}
        {assets && assets.length > 0 && shown.length === 0 && <p class="muted">No portal matches “{query}”.</p>}
        <ul class="cards" aria-label="Portals">
          {shown.map((asset) => {
            const state = stateOf(asset);
            const live = liveSessionOf(asset.id);
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
                {cardErrors[asset.id] && (
                  <p class="error" role="alert">
                    {cardErrors[asset.id]}
                  </p>
                )}
                <div class="actions">
                  {live ? (
                    <>
                      <a class="button" href={liveViewUrl(live.id)}>Return to session</a>
                      <button type="button" class="secondary" onClick={() => void end(live)}>End</button>
                    </>
                  ) : (
                    <button type="button" disabled={!asset.available || opening !== null} onClick={() => void open(asset)} aria-label={`Open ${asset.name}`}>
                      {opening === asset.id ? 'Signing in…' : 'Open'}
                    </button>
                  )}
                </div>
              </li>
            );
          })}
        </ul>
      </main>
    </div>
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function describeOpenError(error: unknown): string {
  if (error instanceof ApiError && error.code === 'credential_in_use') return `Credential busy: ${error.message}`;
  return describeError(error);
}
